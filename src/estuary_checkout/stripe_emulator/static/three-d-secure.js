/*
 * The 3-D Secure test page. At the top level its forms post and the emulator redirects to the
 * return_url. Inside the Stripe.js subset's challenge modal (the parent's origin in the fragment)
 * it posts the outcome itself and tells the parent, which then reads the PaymentIntent again.
 */
(function () {
  'use strict';

  var params = new URLSearchParams(window.location.hash.slice(1));
  var parentOrigin = params.get('origin');
  var body = document.body;
  var status = document.getElementById('status');
  var buttons = Array.prototype.slice.call(document.querySelectorAll('button'));

  // Chromium refuses focus() in a cross-origin frame until the frame itself has the focus, so
  // the first button takes it again when the parent focuses this frame.
  function focusFirst() {
    if (buttons.length && (!document.activeElement || document.activeElement === document.body)) {
      buttons[0].focus();
    }
  }
  focusFirst();
  window.addEventListener('focus', focusFirst);
  if (window.parent === window || !parentOrigin) {
    return;
  }

  function done() {
    try {
      window.parent.postMessage(
        { source: 'estuary-stripe-3ds', type: 'done', payment_intent: body.dataset.paymentIntent },
        parentOrigin);
    } catch (e) {
      if (status) { status.textContent = 'Could not reach the payment page (' + e.message + ').'; }
    }
  }

  if (body.dataset.status !== 'requires_action') {
    done(); // nothing to authenticate: let the page read the outcome
    return;
  }

  Array.prototype.forEach.call(document.querySelectorAll('form'), function (form) {
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      buttons.forEach(function (b) { b.disabled = true; });
      status.textContent = 'Authenticating…';
      window.fetch(form.action, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'outcome=' + encodeURIComponent(form.elements.outcome.value)
      }).then(function (resp) {
        if (!resp.ok && resp.status !== 400) {
          throw new Error('HTTP ' + resp.status);
        }
        done();
      }).catch(function () {
        buttons.forEach(function (b) { b.disabled = false; });
        status.textContent = 'Could not reach the emulator. Try again.';
      });
    });
  });
})();
