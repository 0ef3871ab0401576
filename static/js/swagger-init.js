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
  var csrfCookie = container.getAttribute("data-csrf-cookie");
  var csrfHeader = container.getAttribute("data-csrf-header");

  function cookie(name) {
    var pairs = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < pairs.length; i++) {
      var eq = pairs[i].indexOf("=");
      if (pairs[i].slice(0, eq) === name) {
        return decodeURIComponent(pairs[i].slice(eq + 1));
      }
    }
    return undefined;
  }

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
      var token = csrfCookie ? cookie(csrfCookie) : undefined;
      if (token !== undefined) {
        request.headers[csrfHeader] = token;
      }
      return request;
    }
  });
})();
