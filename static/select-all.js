// Select All in a table's header ticks the rows shown; the form still says (and the server
// still takes) every row of the list, not only this page. Without script the box works alone.
document.querySelectorAll("input[data-ticks]").forEach(function (all) {
  all.addEventListener("change", function () {
    document.querySelectorAll('input[name="' + all.dataset.ticks + '"]').forEach(function (row) {
      row.checked = all.checked;
    });
  });
});
