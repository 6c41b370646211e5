/*
 * Estuary Checkout's Stripe emulator: a subset of Stripe.js v3 for development and tests.
 *
 * Load it where production loads https://js.stripe.com/v3/ (GET /config's stripe_js_url gives the
 * right one). It talks to the emulator it was loaded from. The Payment Element is an iframe on the
 * emulator's origin: card details are typed there and sent from there, never from the host page.
 * What it covers, and what it does not: docs/stripe-js-subset.md.
 *
 * No inline styles or scripts are added to the host page (style properties are set through the
 * CSSOM, which a Content-Security-Policy without 'unsafe-inline' allows).
 */
(function () {
  'use strict';

  if (window.Stripe && window.Stripe.estuaryEmulator) {
    return; // loaded twice: keep the first
  }

  var script = document.currentScript;
  var BASE = new URL(script && script.src ? script.src : '/', window.location.href).origin;
  var FRAME_TITLE = 'Secure payment input frame';
  var FROM_FRAME = 'estuary-stripe-frame';
  var TO_FRAME = 'estuary-stripe-js';
  var FROM_CHALLENGE = 'estuary-stripe-3ds';
  var LOAD_TIMEOUT_MS = 20000;
  var LOAD_ERROR = {
    type: 'api_connection_error',
    message: 'The payment form could not be loaded from the Stripe emulator.'
  };

  // The fields of a PaymentIntent that Stripe returns to a publishable key; the emulator returns
  // the whole object, so the subset trims it, and page code that works here works with Stripe.
  var CLIENT_PI_FIELDS = [
    'id', 'object', 'amount', 'automatic_payment_methods', 'canceled_at', 'cancellation_reason',
    'capture_method', 'client_secret', 'confirmation_method', 'created', 'currency', 'description',
    'last_payment_error', 'livemode', 'next_action', 'payment_method', 'payment_method_types',
    'processing', 'receipt_email', 'setup_future_usage', 'shipping', 'status'
  ];

  function IntegrationError(message) {
    var err = new Error(message);
    err.name = 'IntegrationError';
    return err;
  }

  function unsupported(name) {
    return function () {
      throw IntegrationError(
        'stripe.' + name + '() is not part of the Stripe emulator\'s Stripe.js subset ' +
        '(see docs/stripe-js-subset.md).'
      );
    };
  }

  function clientPaymentIntent(pi) {
    if (!pi || typeof pi !== 'object') {
      return pi;
    }
    var out = {};
    CLIENT_PI_FIELDS.forEach(function (field) {
      if (Object.prototype.hasOwnProperty.call(pi, field)) {
        out[field] = pi[field];
      }
    });
    return out;
  }

  function clientError(error) {
    var out = {};
    Object.keys(error || {}).forEach(function (k) {
      out[k] = error[k];
    });
    if (!out.type) {
      out.type = 'api_error';
    }
    if (out.payment_intent) {
      out.payment_intent = clientPaymentIntent(out.payment_intent);
    }
    delete out.request_log_url;
    return out;
  }

  function parseClientSecret(secret) {
    var m = typeof secret === 'string' && /^(pi_[A-Za-z0-9]+)_secret_[A-Za-z0-9]+$/.exec(secret);
    return m ? m[1] : null;
  }

  // Stripe's form encoding: a[b][c]=v, arrays as a[0]=v.
  function encodeForm(params, prefix, out) {
    out = out || [];
    Object.keys(params).forEach(function (key) {
      var value = params[key];
      var name = prefix ? prefix + '[' + key + ']' : key;
      if (value === undefined || value === null) {
        return;
      }
      if (typeof value === 'object') {
        encodeForm(value, name, out);
      } else {
        out.push(encodeURIComponent(name) + '=' + encodeURIComponent(String(value)));
      }
    });
    return out.join('&');
  }

  function uid(prefix) {
    var bytes = new Uint8Array(12);
    window.crypto.getRandomValues(bytes);
    return prefix + Array.prototype.map.call(bytes, function (b) {
      return ('0' + b.toString(16)).slice(-2);
    }).join('');
  }

  function resolveTarget(target) {
    if (typeof target === 'string') {
      var found = document.querySelector(target);
      if (!found) {
        throw IntegrationError('The selector you specified (' + target + ') applies to no DOM elements ' +
          'that are currently on the page. Make sure the element exists on the page before calling mount().');
      }
      return found;
    }
    if (target && target.nodeType === 1) {
      return target;
    }
    throw IntegrationError('Invalid DOM element. Make sure to call mount() with a valid DOM element or selector.');
  }

  function setStyles(el, styles) {
    Object.keys(styles).forEach(function (k) {
      el.style.setProperty(k, styles[k]);
    });
  }

  // --- the 3-D Secure challenge modal --------------------------------------------------------
  function challengeUrl(nextAction) {
    if (!nextAction) {
      return null;
    }
    if (nextAction.type === 'use_stripe_sdk' && nextAction.use_stripe_sdk) {
      return nextAction.use_stripe_sdk.stripe_js || null;
    }
    if (nextAction.type === 'redirect_to_url' && nextAction.redirect_to_url) {
      return nextAction.redirect_to_url.url || null;
    }
    return null;
  }

  function runChallenge(url) {
    return new Promise(function (resolve) {
      var origin = new URL(url, BASE).origin;
      var previousFocus = document.activeElement;
      var previousOverflow = document.body.style.getPropertyValue('overflow');
      var overlay = document.createElement('div');
      setStyles(overlay, {
        position: 'fixed', inset: '0', 'z-index': '2147483647', display: 'flex',
        'align-items': 'center', 'justify-content': 'center', background: 'rgba(0, 0, 0, 0.55)'
      });
      var dialog = document.createElement('div');
      dialog.setAttribute('role', 'dialog');
      dialog.setAttribute('aria-modal', 'true');
      dialog.setAttribute('aria-label', 'Authenticate your payment');
      setStyles(dialog, {
        width: 'min(500px, calc(100vw - 16px))', height: 'min(600px, calc(100vh - 16px))',
        background: '#ffffff', 'border-radius': '8px', overflow: 'hidden',
        'box-shadow': '0 8px 32px rgba(0, 0, 0, 0.35)'
      });
      var frame = document.createElement('iframe');
      frame.setAttribute('title', '3D Secure authentication');
      frame.setAttribute('name', uid('__estuary3ds'));
      setStyles(frame, { width: '100%', height: '100%', border: '0', display: 'block' });
      frame.src = url + '#' + encodeForm({ origin: window.location.origin });
      dialog.appendChild(frame);
      overlay.appendChild(dialog);

      function onMessage(event) {
        var data = event.data;
        if (event.source !== frame.contentWindow || event.origin !== origin || !data ||
            data.source !== FROM_CHALLENGE || data.type !== 'done') {
          return;
        }
        window.removeEventListener('message', onMessage);
        overlay.remove();
        document.body.style.setProperty('overflow', previousOverflow);
        if (previousFocus && typeof previousFocus.focus === 'function') {
          previousFocus.focus();
        }
        resolve();
      }

      window.addEventListener('message', onMessage);
      frame.addEventListener('load', function () {
        frame.focus();
      });
      document.body.style.setProperty('overflow', 'hidden');
      document.body.appendChild(overlay);
    });
  }

  // --- Stripe(publishableKey) ------------------------------------------------------------------
  function Stripe(key, options) {
    if (typeof key !== 'string' || !key) {
      throw IntegrationError('Please call Stripe() with your publishable key. You used an empty string.');
    }
    if (/^(sk|rk)_/.test(key)) {
      throw IntegrationError('You should not use your secret key with Stripe.js. ' +
        'Please pass a publishable key instead.');
    }
    if (!/^pk_/.test(key)) {
      throw IntegrationError('Invalid API Key provided: ' + key);
    }
    void options; // stripeAccount, locale, apiVersion: accepted, not used by the subset

    function api(method, path, params) {
      var body = params ? encodeForm(params) : '';
      var url = BASE + path;
      var init = {
        method: method,
        mode: 'cors',
        credentials: 'omit',
        headers: { Authorization: 'Bearer ' + key }
      };
      if (method === 'GET') {
        url += body ? '?' + body : '';
      } else {
        init.headers['Content-Type'] = 'application/x-www-form-urlencoded';
        init.body = body;
      }
      return window.fetch(url, init).then(function (resp) {
        return resp.json().then(function (json) {
          if (resp.ok) {
            return { object: json };
          }
          return { error: clientError(json && json.error) };
        }, function () {
          return { error: { type: 'api_error', message: 'Stripe answered HTTP ' + resp.status + '.' } };
        });
      }, function () {
        return {
          error: {
            type: 'api_connection_error',
            message: 'An error occurred with our connection to Stripe.'
          }
        };
      });
    }

    function retrieve(clientSecret) {
      var id = parseClientSecret(clientSecret);
      return api('GET', '/v1/payment_intents/' + id, { client_secret: clientSecret });
    }

    // After a confirm: run the 3-D Secure challenge if there is one, then read the outcome.
    function settle(pi, clientSecret) {
      var url = pi.status === 'requires_action' ? challengeUrl(pi.next_action) : null;
      var ready = url ? runChallenge(url).then(function () {
        return retrieve(clientSecret);
      }) : Promise.resolve({ object: pi });
      return ready.then(function (res) {
        if (res.error) {
          return { error: res.error };
        }
        var after = res.object;
        if (after.status === 'requires_payment_method' && after.last_payment_error) {
          var err = clientError(after.last_payment_error);
          err.payment_intent = clientPaymentIntent(after);
          return { error: err };
        }
        return { paymentIntent: clientPaymentIntent(after) };
      });
    }

    function redirectTo(returnUrl, pi) {
      var target = new URL(returnUrl, window.location.href);
      target.searchParams.set('payment_intent', pi.id);
      target.searchParams.set('payment_intent_client_secret', pi.client_secret);
      target.searchParams.set('redirect_status',
        pi.status === 'processing' ? 'processing' : 'succeeded');
      window.location.assign(target.toString());
      return new Promise(function () {}); // the page is going away, as with Stripe.js
    }

    var stripe = {};

    stripe.elements = function (opts) {
      opts = opts || {};
      if (!opts.clientSecret) {
        throw IntegrationError('stripe.elements(): the emulator\'s subset needs `clientSecret` ' +
          '(a PaymentIntent\'s client_secret); deferred intents (`mode`) are not supported.');
      }
      if (!parseClientSecret(opts.clientSecret)) {
        throw IntegrationError('Invalid value for elements(): clientSecret should be a client secret of ' +
          'the form ${id}_secret_${secret}. You specified: ' + opts.clientSecret + '.');
      }
      return createElements(key, opts);
    };

    stripe.confirmPayment = function (opts) {
      opts = opts || {};
      var elements = opts.elements;
      if (!elements || !elements.__estuary) {
        return Promise.reject(IntegrationError(
          'stripe.confirmPayment(): expected the `elements` instance the Payment Element was created with.'));
      }
      var redirect = opts.redirect || 'always';
      if (redirect !== 'always' && redirect !== 'if_required') {
        return Promise.reject(IntegrationError(
          'stripe.confirmPayment(): `redirect` must be "always" or "if_required".'));
      }
      var confirmParams = opts.confirmParams || {};
      if (redirect === 'always' && !confirmParams.return_url) {
        return Promise.reject(IntegrationError(
          'stripe.confirmPayment(): the `confirmParams.return_url` argument is required unless passing ' +
          '`redirect: \'if_required\'`'));
      }
      var clientSecret = opts.clientSecret || elements.__estuary.clientSecret;
      var piId = parseClientSecret(clientSecret);
      var element = elements.getElement('payment');
      if (!element || !element.__estuary.mounted()) {
        return Promise.reject(IntegrationError(
          'stripe.confirmPayment(): the Payment Element must be mounted before confirming.'));
      }
      var pmData = confirmParams.payment_method_data || {};
      return element.__estuary.request('createPaymentMethod', {
        billing_details: pmData.billing_details || null
      }).then(function (created) {
        if (created.error) {
          return { error: created.error };
        }
        var params = {
          client_secret: clientSecret,
          payment_method: created.paymentMethod.id,
          use_stripe_sdk: 'true'
        };
        if (confirmParams.return_url) {
          params.return_url = confirmParams.return_url;
        }
        if (confirmParams.receipt_email) {
          params.receipt_email = confirmParams.receipt_email;
        }
        if (confirmParams.shipping) {
          params.shipping = confirmParams.shipping;
        }
        return api('POST', '/v1/payment_intents/' + piId + '/confirm', params).then(function (res) {
          if (res.error) {
            return { error: res.error };
          }
          return settle(res.object, clientSecret);
        });
      }).then(function (result) {
        if (result.paymentIntent && redirect === 'always' &&
            ['succeeded', 'processing', 'requires_capture'].indexOf(result.paymentIntent.status) >= 0) {
          return redirectTo(confirmParams.return_url, result.paymentIntent);
        }
        return result;
      });
    };

    stripe.retrievePaymentIntent = function (clientSecret) {
      if (!parseClientSecret(clientSecret)) {
        return Promise.reject(IntegrationError('stripe.retrievePaymentIntent(): invalid client secret.'));
      }
      return retrieve(clientSecret).then(function (res) {
        return res.error ? { error: res.error } : { paymentIntent: clientPaymentIntent(res.object) };
      });
    };

    stripe.handleNextAction = function (opts) {
      var clientSecret = opts && opts.clientSecret;
      if (!parseClientSecret(clientSecret)) {
        return Promise.reject(IntegrationError('stripe.handleNextAction(): invalid client secret.'));
      }
      return retrieve(clientSecret).then(function (res) {
        return res.error ? { error: res.error } : settle(res.object, clientSecret);
      });
    };

    [
      'confirmCardPayment', 'confirmSetup', 'createPaymentMethod', 'createToken', 'createSource',
      'paymentRequest', 'redirectToCheckout', 'initEmbeddedCheckout', 'initCheckout',
      'retrieveSetupIntent', 'handleCardAction', 'collectBankAccountForPayment', 'verifyIdentity'
    ].forEach(function (name) {
      stripe[name] = unsupported(name);
    });

    return stripe;
  }

  // --- Elements and the Payment Element --------------------------------------------------------
  function createElements(key, opts) {
    var state = { clientSecret: opts.clientSecret, appearance: opts.appearance || null, payment: null };
    var elements = { __estuary: state };

    elements.create = function (type, options) {
      if (type !== 'payment') {
        throw IntegrationError('elements.create(\'' + type + '\'): the emulator\'s subset has only the ' +
          '\'payment\' Element.');
      }
      if (state.payment && !state.payment.__estuary.destroyed()) {
        throw IntegrationError('Can only create one Element of type payment.');
      }
      state.payment = createPaymentElement(key, state, options || {});
      return state.payment;
    };

    elements.getElement = function (type) {
      var el = type === 'payment' ? state.payment : null;
      return el && !el.__estuary.destroyed() ? el : null;
    };

    elements.update = function (options) {
      if (options && options.appearance) {
        state.appearance = options.appearance;
        if (state.payment) {
          state.payment.__estuary.send('update', { appearance: state.appearance });
        }
      }
    };

    elements.submit = function () {
      var el = elements.getElement('payment');
      if (!el || !el.__estuary.mounted()) {
        return Promise.reject(IntegrationError('elements.submit(): the Payment Element is not mounted.'));
      }
      return el.__estuary.request('submit', {});
    };

    elements.fetchUpdates = function () {
      return Promise.resolve({});
    };

    return elements;
  }

  function createPaymentElement(key, group, options) {
    var handlers = {};
    var channel = uid('ch_');
    var frame = null;
    var container = null;
    var destroyed = false;
    var ready = null;
    var markReady = null;
    var pending = {};
    var seq = 0;

    function emit(name, payload) {
      (handlers[name] || []).slice().forEach(function (h) {
        try {
          h(payload);
        } catch (e) {
          window.setTimeout(function () { throw e; });
        }
      });
    }

    function setClass(name, on) {
      if (container) {
        container.classList.toggle(name, !!on);
      }
    }

    function onMessage(event) {
      var data = event.data;
      if (!frame || event.source !== frame.contentWindow || event.origin !== BASE || !data ||
          data.source !== FROM_FRAME || data.channel !== channel) {
        return;
      }
      var p = data.payload || {};
      switch (data.type) {
        case 'ready':
          markReady();
          emit('ready', { elementType: 'payment' });
          break;
        case 'resize':
          if (typeof p.height === 'number' && p.height > 0 && p.height < 5000) {
            frame.style.setProperty('height', Math.ceil(p.height) + 'px');
          }
          break;
        case 'change':
          setClass('StripeElement--empty', p.empty);
          setClass('StripeElement--complete', p.complete);
          setClass('StripeElement--invalid', !!p.error);
          var change = {
            elementType: 'payment',
            empty: !!p.empty,
            complete: !!p.complete,
            collapsed: false,
            value: { type: 'card' }
          };
          if (p.error) {
            change.error = p.error;
          }
          emit('change', change);
          break;
        case 'focus':
        case 'blur':
          setClass('StripeElement--focus', data.type === 'focus');
          emit(data.type, { elementType: 'payment' });
          break;
        case 'escape':
          emit('escape', { elementType: 'payment' });
          break;
        case 'response':
          if (pending[data.id]) {
            pending[data.id](p);
            delete pending[data.id];
          }
          break;
        default:
          break;
      }
    }

    function send(type, payload, id) {
      if (frame && frame.contentWindow) {
        frame.contentWindow.postMessage(
          { source: TO_FRAME, channel: channel, type: type, id: id, payload: payload || {} }, BASE);
      }
    }

    function request(type, payload) {
      return ready.then(function (loaded) {
        if (!loaded) {
          return { error: LOAD_ERROR };
        }
        return new Promise(function (resolve) {
          seq += 1;
          var id = 'req_' + seq;
          pending[id] = resolve;
          send(type, payload, id);
        });
      });
    }

    var element = {
      __estuary: {
        mounted: function () { return !!frame; },
        destroyed: function () { return destroyed; },
        request: request,
        send: function (type, payload) {
          if (ready) {
            ready.then(function (loaded) {
              if (loaded) {
                send(type, payload);
              }
            });
          }
        }
      }
    };

    element.mount = function (target) {
      if (destroyed) {
        throw IntegrationError('This Element has already been destroyed. Please create a new one.');
      }
      if (frame) {
        throw IntegrationError('This Element is already mounted. Use `unmount()` to unmount the Element ' +
          'before re-mounting.');
      }
      container = resolveTarget(target);
      // resolves true once the frame says it is ready, false if it has not within LOAD_TIMEOUT_MS
      ready = new Promise(function (resolve) {
        var timer = window.setTimeout(function () {
          resolve(false);
          emit('loaderror', { elementType: 'payment', error: LOAD_ERROR });
        }, LOAD_TIMEOUT_MS);
        markReady = function () {
          window.clearTimeout(timer);
          resolve(true);
        };
      });
      var init = {
        channel: channel,
        origin: window.location.origin,
        key: key,
        appearance: group.appearance,
        options: options
      };
      frame = document.createElement('iframe');
      frame.setAttribute('title', FRAME_TITLE);
      frame.setAttribute('name', uid('__privateStripeFrame'));
      frame.setAttribute('allow', 'payment');
      frame.setAttribute('scrolling', 'no');
      setStyles(frame, {
        border: '0', width: '100%', 'min-width': '100%', height: '260px', display: 'block',
        overflow: 'hidden', 'color-scheme': 'normal'
      });
      frame.src = BASE + '/v3/elements-frame.html#' + encodeURIComponent(JSON.stringify(init));
      window.addEventListener('message', onMessage);
      container.classList.add('StripeElement', 'StripeElement--empty');
      container.appendChild(frame);
    };

    element.unmount = function () {
      if (!frame) {
        return;
      }
      window.removeEventListener('message', onMessage);
      Object.keys(pending).forEach(function (id) {
        pending[id]({ error: { type: 'validation_error', code: 'unmounted',
          message: 'The Payment Element was unmounted.' } });
      });
      pending = {};
      frame.remove();
      frame = null;
      ['StripeElement', 'StripeElement--empty', 'StripeElement--complete', 'StripeElement--invalid',
        'StripeElement--focus'].forEach(function (c) { container.classList.remove(c); });
      container = null;
    };

    element.destroy = function () {
      element.unmount();
      destroyed = true;
      handlers = {};
    };

    element.on = function (name, handler) {
      (handlers[name] = handlers[name] || []).push(handler);
      return element;
    };

    element.off = function (name, handler) {
      if (!handler) {
        delete handlers[name];
      } else if (handlers[name]) {
        handlers[name] = handlers[name].filter(function (h) { return h !== handler; });
      }
      return element;
    };

    element.once = function (name, handler) {
      function wrapper(payload) {
        element.off(name, wrapper);
        handler(payload);
      }
      return element.on(name, wrapper);
    };

    element.focus = function () {
      if (frame) {
        frame.focus(); // a cross-origin frame may move its focus only once it has the focus
      }
      element.__estuary.send('focus');
    };
    element.blur = function () {
      element.__estuary.send('blur');
    };
    element.clear = function () {
      element.__estuary.send('clear');
    };
    element.update = function (newOptions) {
      Object.keys(newOptions || {}).forEach(function (k) { options[k] = newOptions[k]; });
      element.__estuary.send('update', { options: options });
    };
    element.collapse = function () {};

    return element;
  }

  Stripe.version = 3;
  Stripe.estuaryEmulator = true;
  window.Stripe = Stripe;
})();
