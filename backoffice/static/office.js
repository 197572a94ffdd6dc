// Office pages: the receipt's print button (inline handlers are refused by the CSP).
document.addEventListener("click", function (event) {
  if (event.target.closest("[data-print]")) {
    window.print();
  }
});
