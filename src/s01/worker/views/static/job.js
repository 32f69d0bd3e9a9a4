// The job page while its job is queued or running: every two seconds ask
// @@progress for the status, the counts and the log lines written since,
// and show them; reload once the job has ended, for its final output.
// Text goes in with textContent only, never as HTML.
(function () {
  "use strict";

  var live = document.getElementById("job-live");
  if (!live || !window.fetch) {
    return;
  }
  var url = live.getAttribute("data-progress-url");
  var offset = Number(live.getAttribute("data-log-offset")) || 0;
  var logBox = document.getElementById("log-tail");
  var keepChars = 200000;
  var styles = {
    queued: "secondary", processing: "primary", completed: "success",
    error: "danger", cancelled: "warning"
  };

  function show(id, value) {
    var element = document.getElementById(id);
    if (element && value !== undefined && value !== null) {
      element.textContent = String(value);
    }
  }

  function showStatus(status) {
    var badge = document.getElementById("job-status");
    if (!badge || badge.textContent === status) {
      return;
    }
    badge.textContent = status;
    badge.className = "badge text-bg-" + (styles[status] || "light");
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
      showStatus(answer.status);
      if (answer.progress) {
        show("progress-pages", answer.progress.pages);
        show("progress-items", answer.progress.items);
      }
      if (answer.log) {
        appendLog(answer.log.text);
        offset = answer.log.offset;
      }
      if (answer.finished) {
        window.location.reload();
        return;
      }
      window.setTimeout(poll, 2000);
    }).catch(function () {
      // The daemon restarts or the network hiccups: try again later.
      window.setTimeout(poll, 5000);
    });
  }

  if (logBox) {
    logBox.scrollTop = logBox.scrollHeight;
  }
  window.setTimeout(poll, 1000);
})();
