// Progressive enhancement only: every page reads without this file.
(function () {
  "use strict";

  // Legend buttons toggle a chart's series; a readout shows the value under the pointer.
  function enhanceChart(figure) {
    var svg = figure.querySelector("svg.chart");
    var legend = figure.querySelector("ul.legend");
    if (!svg) return;
    var readout = document.createElement("p");
    readout.className = "chart-readout";
    readout.setAttribute("aria-live", "polite");
    figure.appendChild(readout);
    svg.addEventListener("mouseover", function (event) {
      var point = event.target.closest(".point, .bar");
      if (point) {
        var title = point.querySelector("title");
        readout.textContent = title ? title.textContent : "";
      }
    });
    if (!legend) return;
    var groups = svg.querySelectorAll("g.series");
    legend.querySelectorAll("li").forEach(function (item, index) {
      var group = groups[index];
      if (!group) return;
      var button = document.createElement("button");
      button.type = "button";
      button.setAttribute("aria-pressed", "true");
      while (item.firstChild) button.appendChild(item.firstChild);
      item.appendChild(button);
      button.addEventListener("click", function () {
        var shown = button.getAttribute("aria-pressed") === "true";
        button.setAttribute("aria-pressed", shown ? "false" : "true");
        group.classList.toggle("hidden", shown);
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("figure.metric, figure.hardware, figure.feature").forEach(enhanceChart);
  });
})();
