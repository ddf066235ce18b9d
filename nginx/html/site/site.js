// The landing page: fills in the address the page was reached at.

for (const node of document.querySelectorAll("[data-host]")) {
  node.textContent = window.location.host;
}
