/* Card entry through the provider's Stripe.js: the card never reaches our server.
   The card page posts only the token id; the confirmation page runs the
   confirmation-code step (3-D Secure) and then opens the result page, which
   re-reads the payment on the server. */
(function () {
  "use strict";
  var errors = document.getElementById("card-errors");
  function show(text) { if (errors) { errors.textContent = text; } }
  var GENERIC = "Проверьте номер карты, срок действия и код CVC.";

  var form = document.getElementById("card-form");
  if (form && window.Stripe) {
    var stripe = window.Stripe(form.getAttribute("data-pk"));
    var card = stripe.elements().create("card", {hidePostalCode: true});
    card.mount("#card-element");
    var button = document.getElementById("pay-button");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      button.disabled = true;
      show("");
      stripe.createToken(card).then(function (result) {
        if (result.error || !result.token) {
          show((result.error && result.error.message) ? GENERIC + " (" + result.error.message + ")" : GENERIC);
          button.disabled = false;
          return;
        }
        form.elements.token.value = result.token.id;
        form.submit();
      });
    });
  } else if (form) {
    show("Платёжная система не загрузилась. Обновите страницу.");
  }

  var step = document.getElementById("confirm-step");
  if (step && window.Stripe) {
    var stripe2 = window.Stripe(step.getAttribute("data-pk"));
    var result = step.getAttribute("data-result");
    stripe2.confirmCardPayment(step.getAttribute("data-secret")).then(function () {
      window.location.assign(result);
    }, function () {
      window.location.assign(result);
    });
  }
})();
