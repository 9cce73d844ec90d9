// citycrier desk: live length counters on the edit page. The server re-checks every post
// when you save (with X's own counting rules); this only helps while you type.
(function () {
  "use strict";
  var segmenter = (typeof Intl !== "undefined" && Intl.Segmenter)
    ? new Intl.Segmenter(undefined, { granularity: "grapheme" }) : null;
  var URL_RE = /(?:https?:\/\/\S+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:gov|com|org|net|edu|us|io)\b(?:\/\S*)?)/gi;
  var EMOJI_RE = /\p{Extended_Pictographic}/u;
  var MASTODON_URL_RE = /https?:\/\/[^\s<>"]+/gi;  // only links with a protocol count 23
  var MENTION_RE = /(^|[^=\/\w])@([a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)@[\w.-]+\w/gi;

  function graphemes(text) {
    if (!segmenter) { return Array.from(text); }
    return Array.from(segmenter.segment(text), function (s) { return s.segment; });
  }

  function weight(codePoint) {  // twitter-text v3: these ranges weigh 1, the rest 2
    return (codePoint <= 4351 || (codePoint >= 8192 && codePoint <= 8205) ||
            (codePoint >= 8208 && codePoint <= 8223) ||
            (codePoint >= 8242 && codePoint <= 8247)) ? 1 : 2;
  }

  function xLength(text) {
    var n = 0;
    text = text.normalize("NFC").replace(URL_RE, function () { n += 23; return ""; });
    graphemes(text).forEach(function (g) {
      if (EMOJI_RE.test(g)) { n += 2; return; }
      for (var ch of g) { n += weight(ch.codePointAt(0)); }
    });
    return n;
  }

  function mastodonLength(text) {  // Mastodon: a link 23, @name@server as @name, graphemes
    text = text.replace(MASTODON_URL_RE, "xxxxxxxxxxxxxxxxxxxxxxx").replace(MENTION_RE, "$1@$2");
    return graphemes(text).length;
  }

  function measure(text, platform, limit) {
    text = text.replace(/\r\n/g, "\n").trim();
    if (platform === "mastodon") {  // the instance's own limit, from the page
      var m = mastodonLength(text), most = Number(limit) || 500;
      return { text: m + " / " + most + " characters", over: m > most || m === 0 };
    }
    if (platform === "x") {
      var len = xLength(text);
      return { text: len + " / 280 characters", over: len > 280 || len === 0 };
    }
    if (platform === "bluesky") {
      var g = graphemes(text).length, bytes = new TextEncoder().encode(text).length;
      if (g <= 300 && bytes > 3000) {
        return { text: bytes + " / 3000 bytes", over: true };
      }
      return { text: g + " / 300 characters", over: g > 300 || g === 0 };
    }
    var chars = Array.from(text).length;  // alt text
    return { text: chars + " / 1000 characters", over: chars > 1000 || chars === 0 };
  }

  document.querySelectorAll("textarea[data-measure]").forEach(function (area) {
    var counter = document.getElementById(area.id + "-count");
    if (!counter) { return; }
    function update() {
      var m = measure(area.value, area.dataset.measure, area.dataset.limit);
      var empty = area.value.trim() === "";
      counter.textContent = m.text + (empty ? " · empty" : (m.over ? " · too long" : ""));
      counter.classList.toggle("over", m.over);
    }
    area.addEventListener("input", update);
  });
}());
