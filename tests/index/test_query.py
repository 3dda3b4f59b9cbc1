from recommender.index.query import clean_query


def test_tweet_trailer_links_and_tags_are_stripped_but_the_author_kept() -> None:
    tweet = (
        "Global warming is a total hoax! #ClimateHoax https://t.co/AbC123 pic.twitter.com/xYz "
        "— Donald J. Trump (@realDonaldTrump) December 6, 2013"
    )
    assert clean_query(tweet) == "Global warming is a total hoax! Climate Hoax Donald J. Trump"


def test_handles_become_words() -> None:
    assert clean_query("Thanks @SenTedCruz for nothing") == "Thanks Sen Ted Cruz for nothing"


def test_plain_questions_pass_through() -> None:
    assert clean_query("  Who pays   tariffs? ") == "Who pays tariffs?"
    assert clean_query("Is 5G safe - really?") == "Is 5G safe - really?"


def test_nothing_left_falls_back_to_the_input() -> None:
    assert clean_query("https://t.co/x") == "https://t.co/x"


def test_posts_are_told_from_questions() -> None:
    from recommender.index.query import is_post

    for post in ("Wow https://t.co/x", "see www.Example.com now", "#tariffs hurt", "says @someone", "a b — Name (@n) May 1, 2020"):
        assert is_post(post), post
    for question in ("Who pays for tariffs?", "Did 50/50 polls hold?", "Is the rate 3.5% or 4%?"):
        assert not is_post(question), question
