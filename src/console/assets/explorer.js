// The lineage tree's behaviour (loaded by the root and record pages; the CSP forbids inline scripts).
// The server renders the first level of a tree; this loads the rest on demand, as HTML fragments the
// server rendered (and escaped) from the same templates:
//   GET /lineage/records/<id>/children[?after=<seq>]  a page of a node's children, then a "more" button
//   GET /lineage/records/<id>/arguments               a decision's arguments, checked against its digest
//   GET /lineage/roots/<id>/counts                    how many records and denials the root holds
// So a root of any size costs one page of nodes at a time, never all of them.
'use strict';
(function () {
  function fragment(html) {
    var template = document.createElement('template');
    template.innerHTML = html;
    return template.content;
  }

  function load(url) {
    return fetch(url, { headers: { accept: 'text/html' }, credentials: 'same-origin' }).then(function (res) {
      return res.text().then(function (body) {
        if (res.ok) return body;
        // Error pages carry their message in .error-message; show that, never the whole page.
        var message = fragment(body).querySelector('.error-message');
        throw new Error((message && message.textContent) || 'HTTP ' + res.status);
      });
    });
  }

  function failed(into, err) {
    var note = document.createElement('span');
    note.className = 'deny load-error';
    note.textContent = 'could not load: ' + err.message;
    into.appendChild(note);
  }

  function busy(button, on) {
    button.disabled = on;
    button.setAttribute('aria-busy', on ? 'true' : 'false');
  }

  function toggle(button) {
    var node = button.closest('li.node');
    var list = node && node.querySelector(':scope > ul.children');
    if (!list) return;
    var open = button.getAttribute('aria-expanded') === 'true';
    if (open) {
      list.hidden = true;
      button.setAttribute('aria-expanded', 'false');
      button.textContent = '▸';
      return;
    }
    list.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    button.textContent = '▾';
    if (button.dataset.loaded) return;
    busy(button, true);
    load(button.dataset.children)
      .then(function (html) {
        list.replaceChildren(fragment(html));
        button.dataset.loaded = '1';
      })
      .catch(function (err) {
        failed(list, err);
      })
      .finally(function () {
        busy(button, false);
      });
  }

  function more(button) {
    var item = button.closest('li.more');
    busy(button, true);
    load(button.dataset.more)
      .then(function (html) {
        item.replaceWith(fragment(html));
      })
      .catch(function (err) {
        busy(button, false);
        failed(item, err);
      });
  }

  function showArguments(button) {
    var cell = button.parentElement;
    busy(button, true);
    load(button.dataset.arguments)
      .then(function (html) {
        cell.replaceChildren(fragment(html));
      })
      .catch(function (err) {
        busy(button, false);
        failed(cell, err);
      });
  }

  // The root page's counts read the whole root: fetched after the tree is in the page.
  document.querySelectorAll('[data-counts]').forEach(function (el) {
    load(el.dataset.counts)
      .then(function (html) {
        el.replaceChildren(fragment(html));
      })
      .catch(function (err) {
        el.textContent = '';
        failed(el, err);
      });
  });

  document.addEventListener('click', function (event) {
    var target = event.target instanceof Element ? event.target.closest('button') : null;
    if (!target) return;
    if (target.dataset.children) toggle(target);
    else if (target.dataset.more) more(target);
    else if (target.dataset.arguments) showArguments(target);
  });
})();
