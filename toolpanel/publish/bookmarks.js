/* toolpanel bookmarks: the reader's saved tools, kept in this browser's localStorage under one key; nothing
   leaves the browser. The Bookmarks page lists each with its current published verdict from
   bookmarks-data.js (window.TOOLPANEL_TOOLS: slug -> [name, verdict as the site shows it, page path]).
   Tool names and verdicts are data: they are set with textContent, never parsed as HTML.
   Without this script (or without storage) every Bookmark button stays hidden. */
(function () {
  "use strict";
  var KEY = "toolpanel.bookmarks";
  var SLUG = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
  var PAGE = /^tools\/[a-z0-9-]+\.html$/;

  function storage() {
    try {
      var s = window.localStorage, probe = KEY + ".probe";
      s.setItem(probe, "1");
      s.removeItem(probe);
      return s;
    } catch (e) {
      return null;
    }
  }

  function read(store) {
    var list, seen = {};
    try {
      list = JSON.parse(store.getItem(KEY) || "[]");
    } catch (e) {
      list = [];
    }
    return (Array.isArray(list) ? list : []).filter(function (b) {
      var ok = b && typeof b.slug === "string" && SLUG.test(b.slug) && typeof b.name === "string" &&
        !seen[b.slug];
      if (ok) seen[b.slug] = true;
      return ok;
    });
  }

  function write(store, list) {
    try {
      store.setItem(KEY, JSON.stringify(list));
    } catch (e) { /* storage full or revoked: the list stays as it was */ }
  }

  function has(list, slug) {
    return list.some(function (b) { return b.slug === slug; });
  }

  function without(list, slug) {
    return list.filter(function (b) { return b.slug !== slug; });
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text) node.textContent = text;
    return node;
  }

  function buttons() {
    return Array.prototype.filter.call(document.querySelectorAll("button[data-bookmark]"), function (b) {
      return SLUG.test(b.getAttribute("data-bookmark") || "");
    });
  }

  function syncButtons(store) {
    var list = read(store);
    buttons().forEach(function (btn) {
      btn.setAttribute("aria-pressed", has(list, btn.getAttribute("data-bookmark")) ? "true" : "false");
    });
  }

  function initButtons(store) {
    buttons().forEach(function (btn) {
      btn.addEventListener("click", function () {
        var slug = btn.getAttribute("data-bookmark"), list = read(store);
        write(store, has(list, slug) ? without(list, slug)
          : [{ slug: slug, name: btn.getAttribute("data-name") || slug }].concat(list));
        syncButtons(store);
      });
      btn.hidden = false;
    });
    syncButtons(store);
  }

  function renderList(store, box, focusAt) {
    var tools = window.TOOLPANEL_TOOLS || {}, root = box.getAttribute("data-root") || "";
    var ul = document.getElementById("bookmark-list"), empty = document.getElementById("bookmarks-empty");
    var list = read(store);
    while (ul.firstChild) ul.removeChild(ul.firstChild);
    list.forEach(function (b, i) {
      var known = Object.prototype.hasOwnProperty.call(tools, b.slug) ? tools[b.slug] : null;
      var name = known ? String(known[0]) : b.name, li = el("li", "bookmark-item"), link;
      if (known && PAGE.test(known[2])) {
        link = el("a", "bookmark-name", name);
        link.href = root + known[2];
      } else {
        link = el("span", "bookmark-name", name);
      }
      li.appendChild(link);
      li.appendChild(el("span", "bookmark-verdict", known ? String(known[1]) : "Not on this site"));
      var remove = el("button", "bookmark-remove", "Remove");
      remove.type = "button";
      remove.appendChild(el("span", "visually-hidden", " " + name));
      remove.addEventListener("click", function () {
        write(store, without(read(store), b.slug));
        document.getElementById("bookmarks-status").textContent = "Removed " + name + ".";
        renderList(store, box, i);
      });
      li.appendChild(remove);
      ul.appendChild(li);
    });
    ul.hidden = !list.length;
    empty.hidden = !!list.length;
    if (focusAt !== undefined) {  // after a removal: the next entry's Remove button, or the empty message
      var left = ul.querySelectorAll(".bookmark-remove");
      (left.length ? left[Math.min(focusAt, left.length - 1)] : empty).focus();
    }
  }

  var store = storage(), box = document.getElementById("bookmarks");
  if (box) {
    document.getElementById("bookmarks-no-script").hidden = true;
    box.hidden = false;
    if (!store) {
      document.getElementById("bookmarks-status").textContent =
        "Bookmarks are kept in this browser's storage, which is turned off here.";
      return;
    }
    renderList(store, box);
  }
  if (!store) return;
  initButtons(store);
  window.addEventListener("storage", function (e) {  // another tab changed the bookmarks
    if (e.key !== KEY && e.key !== null) return;
    syncButtons(store);
    if (box) renderList(store, box);
  });
})();
