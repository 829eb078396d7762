(() => {
  // Runs in a skimguard isolated world of one frame: the page cannot see
  // these globals, and the page's own prototypes cannot lie to it.
  const MAX_ELEMENTS = 50000, MAX_TEXT = 2 << 20;
  const g = (globalThis.__skimguard = { inputs: [], buttons: [] });
  const out = { url: location.href, scripts: [], handlers: [], jsurls: [], forms: [], inputs: [], buttons: [] };

  // hidden is the one test of whether a shopper can see an element; it is
  // kept in this world's globals for ownerJS (dom.go), which runs here later
  // on the frames' owner elements.
  const hidden = (g.hidden = (el) => {
    const cs = getComputedStyle(el);
    if (cs.display === 'none' || cs.visibility === 'hidden' || cs.visibility === 'collapse') return true;
    if (parseFloat(cs.opacity) === 0) return true;
    if (el.getClientRects().length === 0) return true;
    const r = el.getBoundingClientRect();
    if (r.width * r.height === 0) return true;
    // Pushed off the page to the left or top.
    if (r.right + scrollX <= 0 || r.bottom + scrollY <= 0) return true;
    return false;
  });
  const where = (el, attr) => el.localName + (el.id ? '#' + el.id : '') + '[' + attr + ']';
  const attr = (el, n) => el.getAttribute(n) || '';

  const els = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (els.length >= MAX_ELEMENTS) return;
      els.push(el);
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);

  const URL_ATTRS = new Set(['href', 'src', 'action', 'formaction', 'xlink:href', 'data']);
  for (const el of els) {
    for (const a of el.attributes) {
      const n = a.name.toLowerCase();
      if (n.length > 2 && n.startsWith('on')) {
        out.handlers.push({ where: where(el, n), source: a.value });
      } else if (URL_ATTRS.has(n) && /^javascript:/i.test(a.value.replace(/[\x00-\x20]/g, ''))) {
        out.jsurls.push({ where: where(el, n), source: a.value });
      }
    }
    if (el.localName === 'script') {
      const src = el.getAttribute('src');
      out.scripts.push({
        src: src === null ? '' : new URL(src, document.baseURI).href,
        integrity: attr(el, 'integrity'),
        crossorigin: el.hasAttribute('crossorigin') ? (attr(el, 'crossorigin') || 'anonymous') : '',
        text: src === null ? el.text.slice(0, MAX_TEXT) : '',
      });
    }
  }

  // Card-like inputs.
  const TEXTY = new Set(['text', 'tel', 'number', 'password', 'search', '']);
  const classify = (el) => {
    if (el.localName === 'input') {
      if (!TEXTY.has((el.getAttribute('type') || 'text').toLowerCase())) return null;
    } else if (el.localName !== 'select') {
      return null;
    }
    const ac = attr(el, 'autocomplete').toLowerCase().split(/\s+/);
    if (ac.includes('cc-number')) return ['number', 'number'];
    if (ac.includes('cc-exp')) return ['expiry', 'exp'];
    if (ac.includes('cc-exp-month')) return ['expiry', 'month'];
    if (ac.includes('cc-exp-year')) return ['expiry', 'year'];
    if (ac.includes('cc-csc')) return ['cvc', 'cvc'];
    if (ac.includes('cc-name')) return ['name', 'name'];
    const hay = ' ' + [attr(el, 'name'), el.id, attr(el, 'placeholder'), attr(el, 'aria-label'), attr(el, 'data-name')]
      .join(' ').toLowerCase().replace(/[^a-z0-9\/]+/g, ' ') + ' ';
    if (/card ?holder|holder ?name|name ?on ?card|\bcc ?name|card ?name|nameoncard/.test(hay)) return ['name', 'name'];
    if (/cvv|cvc|\bcsc\b|cvn|\bcid\b|security ?code|card ?code|verification ?(code|value)/.test(hay)) return ['cvc', 'cvc'];
    if (/mm ?\/ ?yy|exp(iry|iration)? ?date/.test(hay)) return ['expiry', 'exp'];
    if (/month|\bmm\b|\bexp(iry|iration)? ?m\b/.test(hay)) return ['expiry', 'month'];
    if (/year|\byy(yy)?\b|\bexp(iry|iration)? ?y\b/.test(hay)) return ['expiry', 'year'];
    if (/expir|\bexp\b|ccexp|cardexp/.test(hay)) return ['expiry', 'exp'];
    if (/card ?num|\bcc ?num|ccnum|card ?no\b|credit ?card|\bpan\b|\bcard\b|\bcc\b/.test(hay)) return ['number', 'number'];
    return null;
  };

  const formGetter = (n) => Object.getOwnPropertyDescriptor(HTMLFormElement.prototype, n).get;
  const formAction = formGetter('action'), formMethod = formGetter('method');
  const forms = new Map();
  for (const el of els) {
    const kind = classify(el);
    if (!kind) continue;
    const f = el.form || null;
    let fi = -1;
    if (f) {
      if (!forms.has(f)) {
        forms.set(f, out.forms.length);
        out.forms.push({
          action: formAction.call(f), method: (formMethod.call(f) || 'get').toUpperCase(),
          id: attr(f, 'id'), name: attr(f, 'name'),
        });
      }
      fi = forms.get(f);
    }
    g.inputs.push(el);
    const opts = [];
    if (el.localName === 'select') {
      for (const o of Array.from(el.options).slice(0, 300)) opts.push([o.value, o.text]);
    }
    out.inputs.push({
      field: kind[0], part: kind[1], form: fi,
      name: attr(el, 'name'), id: el.id, type: el.localName === 'select' ? 'select' : (attr(el, 'type') || 'text').toLowerCase(),
      autocomplete: attr(el, 'autocomplete'), visible: !hidden(el),
      maxlength: el.maxLength || 0, placeholder: attr(el, 'placeholder'), options: opts,
    });
  }

  // The pay button: a submit button of a card form, else a button that
  // says pay.
  const PAY = /pay|place.?order|buy|purchase|submit|checkout|complete|confirm|bezahlen|payer|pagar/i;
  const seen = new Set();
  const addButton = (el, score) => {
    if (seen.has(el)) return;
    seen.add(el);
    const visible = !hidden(el);
    g.buttons.push(el);
    out.buttons.push({ score: score + (visible ? 10 : 0), visible });
  };
  for (const f of forms.keys()) {
    for (const b of f.querySelectorAll('button, input[type=submit], input[type=image]')) {
      if (b.localName === 'button' && (b.getAttribute('type') || 'submit').toLowerCase() !== 'submit') continue;
      addButton(b, 3);
    }
  }
  for (const b of els) {
    if (!(b.localName === 'button' || b.localName === 'a' || (b.localName === 'input' && /^(submit|button)$/i.test(attr(b, 'type'))) || attr(b, 'role') === 'button')) continue;
    const text = (b.innerText || b.value || attr(b, 'aria-label') || '').slice(0, 200);
    if (PAY.test(text) || PAY.test(b.id) || PAY.test(attr(b, 'name'))) addButton(b, 2);
  }
  return JSON.stringify(out);
})()
//# sourceURL=skimguard-internal://scan.js
