// Starts the Swagger UI at /schema (market/security/swagger.py): a static file, because
// the Content-Security-Policy refuses inline scripts. Deferred scripts run in order, so
// the bundle and the preset are loaded when this runs.
(function () {
  "use strict";
  var container = document.getElementById("swagger-container");
  if (!container || !window.SwaggerUIBundle) {
    return;
  }
  document.body.style.margin = "0";
  // The page's own CSRF token (bound to this browser's session, market/security/csrf.py);
  // the cookie no longer holds it and scripts cannot read the cookie.
  var csrfToken = container.getAttribute("data-csrf-token");
  var csrfHeader = container.getAttribute("data-csrf-header");

  window.ui = window.SwaggerUIBundle({
    url: container.getAttribute("data-spec-url"),
    dom_id: "#swagger-container",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    // No badge fetched from validator.swagger.io: nothing leaves this origin.
    validatorUrl: null,
    presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIStandalonePreset],
    // "Try it out" with a cookie session needs the CSRF token, as a form would send it;
    // with a Bearer token the server does not ask for it.
    requestInterceptor: function (request) {
      if (csrfToken) {
        request.headers[csrfHeader] = csrfToken;
      }
      return request;
    }
  });
})();
