"""Build recommender/index/data/term_frequencies_en.json.gz: how often each BM25 term occurs in English.

    pip install 'wordfreq==3.1.1' && python scripts/make_term_frequencies.py

BM25's idf needs document frequencies. Taking them from the indexed corpus makes every score depend on
every other article (a write moves them all, and links drift from a recomputation); taking them from a
fixed, general word list makes a score a function of the question and the one fact check alone (see
recommender/index/term_weights.py). wordfreq's "large" English list (a blend of Wikipedia, subtitles,
news, books, web text and social media) is tokenised and stemmed as the index does, and the frequencies
of the words that share a stem are summed. Run once per tokeniser change; the file is committed.
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from pathlib import Path

import wordfreq

from recommender.index.lexical import new_tokenizer

OUT = Path(__file__).resolve().parents[1] / "recommender" / "index" / "data" / "term_frequencies_en.json.gz"
MINIMUM = 1e-8  # rarer words are treated as unknown (scored with the floor frequency)


def main() -> None:
    tokenizer = new_tokenizer()
    words = [w for w, f in wordfreq.get_frequency_dict("en", wordlist="large").items() if f >= MINIMUM]
    frequency = dict(wordfreq.get_frequency_dict("en", wordlist="large"))
    stems: dict[str, float] = defaultdict(float)
    vocab_ids = tokenizer.tokenize(words, update_vocab=True, show_progress=False, return_as="ids")
    names = {i: s for s, i in tokenizer.get_vocab_dict().items()}
    for word, ids in zip(words, vocab_ids):
        for i in ids:
            if i:
                stems[names[i]] += frequency[word] / len(ids)  # "don't" -> "don" and "t": share it
    table = {
        "source": "wordfreq 3.1.1, 'large' English list",
        "tokenizer": "bm25s Tokenizer(stopwords='en', stemmer=Snowball english)",
        "minimum": MINIMUM,
        "frequencies": {s: float(f"{f:.4g}") for s, f in sorted(stems.items())},
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(table, separators=(",", ":")).encode()
    with gzip.GzipFile(OUT, "wb", compresslevel=9, mtime=0) as out:  # mtime 0: the same bytes on every run
        out.write(payload)
    print(f"{len(table['frequencies'])} stems from {len(words)} words -> {OUT} ({OUT.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
