// Starts Swagger UI on /docs (an external script: the page's CSP allows no inline script).
(function () {
  "use strict";
  var openapi = document.currentScript.getAttribute("data-openapi");
  window.addEventListener("DOMContentLoaded", function () {
    window.ui = SwaggerUIBundle({
      url: openapi,
      dom_id: "#swagger-ui",
      layout: "BaseLayout",
      deepLinking: true,
      showExtensions: true,
      showCommonExtensions: true,
      validatorUrl: null, // the default would load a badge from validator.swagger.io
      presets: [SwaggerUIBundle.presets.apis],
    });
  });
})();
