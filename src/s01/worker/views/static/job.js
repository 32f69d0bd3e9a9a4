// The job page. It shows the end of the log; while the job is queued or
// runs, it asks @@progress every two seconds for the counts and the log
// lines written since, and shows them; when the job's status changes it
// reloads the page, which then shows what the new status brings.
// Text goes in with textContent only, never as HTML.
(function () {
  "use strict";

  var logBox = document.getElementById("log-tail");
  var live = document.getElementById("job-live");
  var keepChars = 200000;

  function show(id, value) {
    var element = document.getElementById(id);
    if (element && value !== undefined && value !== null) {
      element.textContent = String(value);
    }
  }

  function appendLog(text) {
    if (!logBox || !text) {
      return;
    }
    var atEnd = logBox.scrollTop + logBox.clientHeight >=
      logBox.scrollHeight - 8;
    var all = logBox.textContent + text;
    if (all.length > keepChars) {
      all = all.slice(all.length - keepChars);
    }
    logBox.textContent = all;
    var none = document.getElementById("no-log");
    if (none) {
      none.hidden = true;
    }
    if (atEnd) {
      logBox.scrollTop = logBox.scrollHeight;
    }
  }

  if (logBox) {
    logBox.scrollTop = logBox.scrollHeight;
  }
  if (!live || !window.fetch) {
    return;
  }
  var url = live.getAttribute("data-progress-url");
  var status = live.getAttribute("data-status");
  var offset = Number(live.getAttribute("data-log-offset")) || 0;

  function poll() {
    fetch(url + "?offset=" + offset, {
      credentials: "same-origin",
      headers: {"Accept": "application/json"}
    }).then(function (response) {
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      return response.json();
    }).then(function (answer) {
      if (answer.progress) {
        show("progress-pages", answer.progress.pages);
        show("progress-items", answer.progress.items);
      }
      if (answer.log) {
        appendLog(answer.log.text);
        offset = answer.log.offset;
      }
      if (answer.status !== status) {
        window.location.reload();
        return;
      }
      window.setTimeout(poll, 2000);
    }).catch(function () {
      // The daemon restarts or the network hiccups: try again later.
      window.setTimeout(poll, 5000);
    });
  }

  window.setTimeout(poll, 1000);
})();
