/*
 * The emulator's Payment Element, inside its iframe on the emulator's origin. It validates the
 * card fields, creates the PaymentMethod itself (POST /v1/payment_methods with the publishable
 * key, same origin) and hands the host page only the PaymentMethod: card details never reach it.
 *
 * It talks only to its parent, at the origin the parent gave in the fragment.
 */
(function () {
  'use strict';

  var FROM_FRAME = 'estuary-stripe-frame';
  var TO_FRAME = 'estuary-stripe-js';
  var VARIABLES = [
    'colorPrimary', 'colorBackground', 'colorText', 'colorTextSecondary', 'colorDanger',
    'fontFamily', 'fontSizeBase', 'borderRadius', 'spacingUnit'
  ];

  var init = null;
  try {
    init = JSON.parse(decodeURIComponent(window.location.hash.slice(1)));
  } catch (e) {
    init = null;
  }
  if (!init || typeof init.channel !== 'string' || typeof init.origin !== 'string' ||
      typeof init.key !== 'string' || window.parent === window) {
    document.body.textContent = 'This frame is part of the Stripe emulator\'s Stripe.js subset; ' +
      'it is mounted by stripe.elements().create(\'payment\').mount().';
    return;
  }
  var parentOrigin = init.origin;
  var channel = init.channel;
  var key = init.key;

  function post(type, payload, id) {
    window.parent.postMessage(
      { source: FROM_FRAME, channel: channel, type: type, id: id, payload: payload || {} }, parentOrigin);
  }

  // --- card rules ----------------------------------------------------------------------------
  function digitsOf(s) {
    return (s || '').replace(/\D/g, '');
  }

  function brandOf(n) {
    if (/^4/.test(n)) { return 'visa'; }
    if (/^5[1-5]/.test(n) || (n.length >= 4 && +n.slice(0, 4) >= 2221 && +n.slice(0, 4) <= 2720)) {
      return 'mastercard';
    }
    if (/^3[47]/.test(n)) { return 'amex'; }
    if (/^(6011|65|64[4-9])/.test(n)) { return 'discover'; }
    if (/^35/.test(n)) { return 'jcb'; }
    if (/^(36|30[0-5]|38)/.test(n)) { return 'diners'; }
    return 'unknown';
  }

  var BRAND_LABELS = {
    visa: 'Visa', mastercard: 'Mastercard', amex: 'Amex', discover: 'Discover', jcb: 'JCB',
    diners: 'Diners', unknown: ''
  };

  function lengthsFor(brand) {
    if (brand === 'amex') { return [15]; }
    if (brand === 'diners') { return [14, 16]; }
    if (brand === 'unknown') { return [16, 17, 18, 19]; }
    return [16];
  }

  function luhn(n) {
    var sum = 0;
    for (var i = 0; i < n.length; i++) {
      var d = +n.charAt(n.length - 1 - i);
      if (i % 2 === 1) {
        d *= 2;
        if (d > 9) { d -= 9; }
      }
      sum += d;
    }
    return n.length > 0 && sum % 10 === 0;
  }

  function formatNumber(n, brand) {
    var groups = brand === 'amex' ? [4, 6, 5] : (brand === 'diners' && n.length <= 14 ? [4, 6, 4] : null);
    var out = [];
    var i = 0;
    if (groups) {
      groups.forEach(function (g) {
        if (i < n.length) { out.push(n.slice(i, i + g)); }
        i += g;
      });
    }
    for (; i < n.length; i += 4) {
      out.push(n.slice(i, i + 4));
    }
    return out.join(' ');
  }

  function formatExpiry(d) {
    if (d.length === 1 && d > '1') {
      d = '0' + d;
    }
    return d.length > 2 ? d.slice(0, 2) + ' / ' + d.slice(2) : d;
  }

  function err(code, message) {
    return { type: 'validation_error', code: code, message: message };
  }

  // Each check returns {empty, complete, error (shown at once), pending (shown once left)}.
  function checkNumber(raw) {
    var n = digitsOf(raw);
    var lengths = lengthsFor(brandOf(n));
    var max = lengths[lengths.length - 1];
    if (!n) {
      return { empty: true, pending: err('incomplete_number', 'Your card number is incomplete.') };
    }
    if (lengths.indexOf(n.length) >= 0 && luhn(n)) {
      return { complete: true };
    }
    if (n.length >= max || (lengths.indexOf(n.length) >= 0 && lengths.length === 1)) {
      return { error: err('invalid_number', 'Your card number is invalid.') };
    }
    return { pending: err('incomplete_number', 'Your card number is incomplete.') };
  }

  function checkExpiry(raw) {
    var d = digitsOf(raw);
    if (!d) {
      return { empty: true, pending: err('incomplete_expiry', 'Your card\'s expiration date is incomplete.') };
    }
    if (d.length < 4) {
      return { pending: err('incomplete_expiry', 'Your card\'s expiration date is incomplete.') };
    }
    var month = +d.slice(0, 2);
    var year = 2000 + +d.slice(2, 4);
    var now = new Date();
    var thisYear = now.getFullYear();
    if (month < 1 || month > 12) {
      return { error: err('invalid_expiry_month', 'Your card\'s expiration month is invalid.') };
    }
    if (year < thisYear) {
      return { error: err('invalid_expiry_year_past', 'Your card\'s expiration year is in the past.') };
    }
    if (year === thisYear && month < now.getMonth() + 1) {
      return { error: err('invalid_expiry_month_past', 'Your card\'s expiration date is in the past.') };
    }
    if (year > thisYear + 50) {
      return { error: err('invalid_expiry_year', 'Your card\'s expiration year is invalid.') };
    }
    return { complete: true, month: month, year: year };
  }

  function checkCvc(raw, brand) {
    var d = digitsOf(raw);
    var want = brand === 'amex' ? 4 : 3;
    if (!d) {
      return { empty: true, pending: err('incomplete_cvc', 'Your card\'s security code is incomplete.') };
    }
    if (d.length < want) {
      return { pending: err('incomplete_cvc', 'Your card\'s security code is incomplete.') };
    }
    return { complete: true };
  }

  function checkPostal(raw) {
    var v = (raw || '').trim();
    return v ? { complete: true } : { empty: true, complete: true };
  }

  // --- the form ------------------------------------------------------------------------------
  var form = document.getElementById('payment-form');
  var inputs = {
    number: document.getElementById('number'),
    expiry: document.getElementById('expiry'),
    cvc: document.getElementById('cvc'),
    postal: document.getElementById('postal')
  };
  var order = ['number', 'expiry', 'cvc', 'postal'];
  var touched = {};
  var showPostal = true;

  function brandNow() {
    return brandOf(digitsOf(inputs.number.value));
  }

  function results() {
    return {
      number: checkNumber(inputs.number.value),
      expiry: checkExpiry(inputs.expiry.value),
      cvc: checkCvc(inputs.cvc.value, brandNow()),
      postal: showPostal ? checkPostal(inputs.postal.value) : { empty: true, complete: true }
    };
  }

  function visibleError(name, r) {
    return r.error || (touched[name] ? r.pending : null) || null;
  }

  function render(all) {
    var firstError = null;
    order.forEach(function (name) {
      var e = visibleError(name, all[name]);
      var box = document.getElementById(name + '-error');
      var text = e ? e.message : '';
      if (box.textContent !== text) {
        box.textContent = text;
      }
      inputs[name].setAttribute('aria-invalid', e ? 'true' : 'false');
      if (e && !firstError) {
        firstError = e;
      }
    });
    document.getElementById('number-brand').textContent = BRAND_LABELS[brandNow()];
    return firstError;
  }

  var lastChange = '';

  function emitChange() {
    var all = results();
    var error = render(all);
    var payload = {
      empty: order.every(function (n) { return all[n].empty; }),
      complete: order.every(function (n) { return all[n].complete; }),
      error: error
    };
    var serialized = JSON.stringify(payload);
    if (serialized !== lastChange) {
      lastChange = serialized;
      post('change', payload);
    }
  }

  // Reformat a field, keeping the caret after the same number of digits.
  function reformat(input, formatted) {
    var caret = input.selectionStart === null ? input.value.length : input.selectionStart;
    var digitsBefore = digitsOf(input.value.slice(0, caret)).length;
    if (input.value === formatted) {
      return;
    }
    input.value = formatted;
    var pos = 0;
    var seen = 0;
    while (pos < formatted.length && seen < digitsBefore) {
      if (/\d/.test(formatted.charAt(pos))) { seen += 1; }
      pos += 1;
    }
    if (caret >= input.value.length || document.activeElement !== input) {
      pos = formatted.length;
    }
    try {
      input.setSelectionRange(pos, pos);
    } catch (e) { /* not focusable yet */ }
  }

  inputs.number.addEventListener('input', function () {
    var n = digitsOf(inputs.number.value);
    var lengths = lengthsFor(brandOf(n));
    n = n.slice(0, lengths[lengths.length - 1]);
    reformat(inputs.number, formatNumber(n, brandOf(n)));
    var r = checkNumber(inputs.number.value);
    emitChange();
    if (r.complete && document.activeElement === inputs.number) {
      inputs.expiry.focus();
    }
  });

  inputs.expiry.addEventListener('input', function () {
    // " / " appears only once the year starts, so backspacing never gets stuck on it
    var d = digitsOf(inputs.expiry.value).slice(0, 4);
    reformat(inputs.expiry, formatExpiry(d));
    emitChange();
    if (checkExpiry(inputs.expiry.value).complete && document.activeElement === inputs.expiry) {
      inputs.cvc.focus();
    }
  });

  inputs.cvc.addEventListener('input', function () {
    var want = brandNow() === 'amex' ? 4 : 3;
    reformat(inputs.cvc, digitsOf(inputs.cvc.value).slice(0, want));
    emitChange();
  });

  inputs.postal.addEventListener('input', emitChange);

  order.forEach(function (name) {
    inputs[name].addEventListener('blur', function () {
      if (inputs[name].value) {
        touched[name] = true;
      }
      emitChange();
    });
  });

  var focused = false;
  form.addEventListener('focusin', function () {
    if (!focused) {
      focused = true;
      post('focus');
    }
  });
  form.addEventListener('focusout', function (ev) {
    if (!ev.relatedTarget || !form.contains(ev.relatedTarget)) {
      focused = false;
      post('blur');
    }
  });
  form.addEventListener('keydown', function (ev) {
    if (ev.key === 'Escape') {
      post('escape');
    }
  });
  form.addEventListener('submit', function (ev) {
    ev.preventDefault(); // Enter in a field: the host page's own button confirms
  });

  // --- appearance and options ----------------------------------------------------------------
  function applyAppearance(appearance) {
    var root = document.documentElement;
    appearance = appearance && typeof appearance === 'object' ? appearance : {};
    var theme = appearance.theme;
    root.setAttribute('data-theme', theme === 'night' || theme === 'flat' ? theme : 'stripe');
    var vars = appearance.variables && typeof appearance.variables === 'object' ? appearance.variables : {};
    VARIABLES.forEach(function (name) {
      var v = vars[name];
      if (typeof v === 'number' && (name === 'fontSizeBase' || name === 'borderRadius' || name === 'spacingUnit')) {
        v = v + 'px';
      }
      if (typeof v === 'string' && v.length <= 200 && !/[;{}]|url\(/i.test(v)) {
        root.style.setProperty('--ec-' + name, v);
      } else {
        root.style.removeProperty('--ec-' + name);
      }
    });
  }

  function applyOptions(options) {
    options = options && typeof options === 'object' ? options : {};
    var fields = options.fields || {};
    var billing = fields.billingDetails;
    showPostal = !(billing === 'never' ||
      (billing && billing.address === 'never') ||
      (billing && billing.address && billing.address.postalCode === 'never'));
    document.querySelector('[data-field="postal"]').classList.toggle('hidden', !showPostal);
    if (!showPostal) {
      inputs.postal.value = '';
    }
    var readOnly = !!options.readOnly;
    order.forEach(function (name) { inputs[name].readOnly = readOnly; });
  }

  // --- requests from the host page -----------------------------------------------------------
  function validateAll() {
    order.forEach(function (name) { touched[name] = true; });
    var all = results();
    lastChange = '';
    emitChange();
    for (var i = 0; i < order.length; i++) {
      var e = visibleError(order[i], all[order[i]]);
      if (e) {
        inputs[order[i]].focus();
        return { error: e };
      }
    }
    return { all: all };
  }

  function formBody(params, prefix, out) {
    out = out || [];
    Object.keys(params).forEach(function (k) {
      var v = params[k];
      var name = prefix ? prefix + '[' + k + ']' : k;
      if (v === undefined || v === null || v === '') {
        return;
      }
      if (typeof v === 'object') {
        formBody(v, name, out);
      } else {
        out.push(encodeURIComponent(name) + '=' + encodeURIComponent(String(v)));
      }
    });
    return out.join('&');
  }

  function createPaymentMethod(payload) {
    var checked = validateAll();
    if (checked.error) {
      return Promise.resolve({ error: checked.error });
    }
    var billing = payload && payload.billing_details && typeof payload.billing_details === 'object'
      ? JSON.parse(JSON.stringify(payload.billing_details)) : {};
    if (showPostal && inputs.postal.value.trim()) {
      billing.address = billing.address && typeof billing.address === 'object' ? billing.address : {};
      billing.address.postal_code = inputs.postal.value.trim();
    }
    var params = {
      type: 'card',
      card: {
        number: digitsOf(inputs.number.value),
        exp_month: checked.all.expiry.month,
        exp_year: checked.all.expiry.year,
        cvc: digitsOf(inputs.cvc.value)
      },
      billing_details: billing
    };
    return window.fetch('/v1/payment_methods', {
      method: 'POST',
      credentials: 'omit',
      headers: {
        Authorization: 'Bearer ' + key,
        'Content-Type': 'application/x-www-form-urlencoded'
      },
      body: formBody(params)
    }).then(function (resp) {
      return resp.json().then(function (json) {
        if (resp.ok) {
          return { paymentMethod: json };
        }
        var e = (json && json.error) || { type: 'api_error', message: 'Stripe answered HTTP ' + resp.status + '.' };
        delete e.request_log_url;
        return { error: e };
      });
    }, function () {
      return { error: { type: 'api_connection_error', message: 'An error occurred with our connection to Stripe.' } };
    });
  }

  window.addEventListener('message', function (event) {
    var data = event.data;
    if (event.source !== window.parent || event.origin !== parentOrigin || !data ||
        data.source !== TO_FRAME || data.channel !== channel) {
      return;
    }
    var p = data.payload || {};
    switch (data.type) {
      case 'createPaymentMethod':
        createPaymentMethod(p).then(function (result) { post('response', result, data.id); });
        break;
      case 'submit':
        var checked = validateAll();
        post('response', checked.error ? { error: checked.error } : {}, data.id);
        break;
      case 'focus':
        inputs.number.focus();
        break;
      case 'blur':
        if (form.contains(document.activeElement)) {
          document.activeElement.blur();
        }
        break;
      case 'clear':
        order.forEach(function (name) { inputs[name].value = ''; });
        touched = {};
        emitChange();
        break;
      case 'update':
        if (p.appearance) { applyAppearance(p.appearance); }
        if (p.options) { applyOptions(p.options); emitChange(); }
        break;
      default:
        break;
    }
  });

  // --- size and start ------------------------------------------------------------------------
  var lastHeight = 0;
  function reportHeight() {
    var h = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (h !== lastHeight) {
      lastHeight = h;
      post('resize', { height: h });
    }
  }

  applyAppearance(init.appearance);
  applyOptions(init.options);
  if (window.ResizeObserver) {
    new window.ResizeObserver(reportHeight).observe(document.documentElement);
  }
  reportHeight();
  lastChange = JSON.stringify({ empty: true, complete: false, error: null });
  render(results());
  post('ready');
})();
