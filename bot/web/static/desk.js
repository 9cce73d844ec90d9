// citycrier desk: live length counters on the edit page. The server re-checks every post
// when you save (with each platform's own counting rules); this only helps while you type.
// How to count comes from the page (each textarea's data attributes, which the server
// renders from the platform registry, bot/platforms.py: Platform.counter), so a new
// platform needs no change here as long as it counts in one of these ways:
//   data-limit      the limit;            data-unit       the word shown ("characters")
//   data-count      "graphemes" | "weighted" (twitter-text v3 weights: CJK and emoji 2)
//   data-urls       "none" | "any" (with or without a protocol) | "protocol" (only with one)
//   data-url-weight what each such link counts
//   data-mentions   "full" | "username" (@name@server counts as @name)
//   data-max-bytes  a UTF-8 byte limit besides the length (0: none)
// data-measure="alt" (alt text) counts code points against data-limit.
(function () {
  "use strict";
  var segmenter = (typeof Intl !== "undefined" && Intl.Segmenter)
    ? new Intl.Segmenter(undefined, { granularity: "grapheme" }) : null;
  var URLS = {
    any: /(?:https?:\/\/\S+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:gov|com|org|net|edu|us|io)\b(?:\/\S*)?)/gi,
    protocol: /https?:\/\/[^\s<>"]+/gi
  };
  var EMOJI_RE = /\p{Extended_Pictographic}/u;
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

  function weighted(text) {
    var n = 0;
    graphemes(text.normalize("NFC")).forEach(function (g) {
      if (EMOJI_RE.test(g)) { n += 2; return; }
      for (var ch of g) { n += weight(ch.codePointAt(0)); }
    });
    return n;
  }

  function postLength(text, rule) {
    var links = 0, pattern = URLS[rule.urls];
    if (pattern) {
      text = text.replace(pattern, function () { links += 1; return ""; });
    }
    if (rule.mentions === "username") { text = text.replace(MENTION_RE, "$1@$2"); }
    var n = rule.count === "weighted" ? weighted(text) : graphemes(text).length;
    return n + links * (Number(rule.urlWeight) || 0);
  }

  function measure(text, rule) {
    text = text.replace(/\r\n/g, "\n").trim();
    var most = Number(rule.limit) || 0, unit = rule.unit || "characters";
    if (rule.measure === "alt") {
      var chars = Array.from(text).length;
      return { text: chars + " / " + most + " " + unit, over: chars > most || chars === 0 };
    }
    var n = postLength(text, rule), maxBytes = Number(rule.maxBytes) || 0;
    if (maxBytes && n <= most) {
      var bytes = new TextEncoder().encode(text).length;
      if (bytes > maxBytes) { return { text: bytes + " / " + maxBytes + " bytes", over: true }; }
    }
    return { text: n + " / " + most + " " + unit, over: n > most || n === 0 };
  }

  document.querySelectorAll("textarea[data-measure]").forEach(function (area) {
    var counter = document.getElementById(area.id + "-count");
    if (!counter) { return; }
    function update() {
      var m = measure(area.value, area.dataset);
      var empty = area.value.trim() === "";
      counter.textContent = m.text + (empty ? " · empty" : (m.over ? " · too long" : ""));
      counter.classList.toggle("over", m.over);
    }
    area.addEventListener("input", update);
  });
}());
