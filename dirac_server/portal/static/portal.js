// dirac-core portal: the little the pages need from JavaScript (served from here: the
// Content-Security-Policy allows no inline script and no other origin). Text from the server
// goes into the page as text (textContent), never as HTML.
"use strict";

function countLink(item) {
  const link = document.createElement("a");
  link.href = item.href.startsWith("/") ? item.href : "#";
  link.dataset.status = item.status;
  if (item.active) {
    link.className = "active";
  }
  link.append(`${item.status} `);
  const number = document.createElement("span");
  number.className = "n";
  number.textContent = String(item.count);
  link.append(number);
  return link;
}

// the job monitor's counts per status come after the page (they scan every matching job)
function loadCounts(box) {
  fetch(box.dataset.src, {credentials: "same-origin", headers: {Accept: "application/json"}})
    .then((answer) => (answer.ok ? answer.json() : Promise.reject(new Error(String(answer.status)))))
    .then((items) => {
      box.replaceChildren(...items.map(countLink));
      box.dataset.loaded = "true";
    })
    .catch(() => {
      box.dataset.loaded = "failed";
    });
}

document.addEventListener("DOMContentLoaded", () => {
  // a filter's select box applies itself when changed
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.requestSubmit());
  }
  // a button of a state-changing form is disabled once pressed (no double Kill)
  for (const form of document.querySelectorAll("form[method=post]")) {
    form.addEventListener("submit", () => {
      for (const button of form.querySelectorAll("button")) {
        button.disabled = true;
      }
    });
  }
  const counts = document.getElementById("status-counts");
  if (counts && counts.dataset.src) {
    loadCounts(counts);
  }
});
