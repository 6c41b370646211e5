// The hosted pages' script (SPEC 13.2): plain JavaScript, no build step. Every text that comes
// from data is written with textContent, never as HTML.
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("page-data").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var token = null;
  var stripe = null;
  var elements = null;
  var currentIntent = null;
  var chosen = null; // {start_time, end_time} of a session
  var coupon = null;

  // --- the client's token: from the URL fragment (never sent to a server), kept for this tab
  function takeToken() {
    var match = /(?:^|[#&])token=([^&]+)/.exec(window.location.hash);
    if (match) {
      sessionStorage.setItem("checkout_token", decodeURIComponent(match[1]));
      history.replaceState(null, "", window.location.pathname + window.location.search);
    }
    return sessionStorage.getItem("checkout_token");
  }

  function api(method, path, body, extraHeaders) {
    var headers = { "Accept": "application/json" };
    if (token) headers["Authorization"] = "Bearer " + token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    Object.assign(headers, extraHeaders || {});
    return fetch(data.api + path, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (json) {
        if (!resp.ok) {
          var err = new Error(json.error || ("Request failed (" + resp.status + ")"));
          err.status = resp.status;
          err.code = json.code;
          err.details = json.details;
          throw err;
        }
        return json;
      });
    });
  }

  // --- messages and money
  function say(text, kind) {
    var box = $("message");
    box.textContent = text || "";
    box.className = "message" + (kind ? " " + kind : "");
  }

  // an amount in minor units, by the digits Stripe counts for the currency (from the server's
  // registry), shown the browser's way for the visitor's locale
  function money(amount, currency) {
    var digits = data.digits[currency];
    var fmt = new Intl.NumberFormat(undefined, {
      style: "currency", currency: currency.toUpperCase(), maximumFractionDigits: Math.max(digits, 0),
    });
    return fmt.format(amount / Math.pow(10, digits));
  }

  function showQuote(q) {
    var rows = document.querySelectorAll("#breakdown [data-amount]");
    rows.forEach(function (dd) {
      var value = q[dd.getAttribute("data-amount")] || 0;
      dd.textContent = (dd.hasAttribute("data-negative") && value ? "− " : "") + money(value, q.currency);
    });
    document.querySelectorAll("#breakdown .credit").forEach(function (el) {
      el.hidden = !q.credits_applied_cents;
    });
    $("pay-button").textContent = "Pay " + money(q.total_cents, q.currency);
  }

  // --- signing in
  function needSignIn() {
    $("signin").hidden = false;
    if (data.dev) {
      var button = $("demo-signin");
      button.hidden = false;
      button.addEventListener("click", function () {
        button.disabled = true;
        fetch(data.mount + "/dev/token", { method: "POST" })
          .then(function (r) { return r.json(); })
          .then(function (json) {
            sessionStorage.setItem("checkout_token", json.token);
            token = json.token;
            $("signin").hidden = true;
            start();
          })
          .catch(function () { button.disabled = false; say("Could not sign in.", "error"); });
      });
    }
  }

  // --- the payment link page
  function isoDay(date) { return date.toISOString().slice(0, 10); }

  function chip(container, label, pressed, onClick) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "chip";
    b.textContent = label;
    b.setAttribute("aria-pressed", pressed ? "true" : "false");
    b.addEventListener("click", function () {
      container.querySelectorAll(".chip").forEach(function (c) { c.setAttribute("aria-pressed", "false"); });
      b.setAttribute("aria-pressed", "true");
      onClick();
    });
    container.appendChild(b);
    return b;
  }

  function loadSlots() {
    var offer = data.offer;
    var from = new Date();
    var to = new Date(from.getTime() + 14 * 24 * 3600 * 1000);
    var query = "?service_id=" + offer.service.id + "&practitioner_id=" + offer.practitioner.id +
      "&from=" + encodeURIComponent(from.toISOString()) + "&to=" + encodeURIComponent(to.toISOString());
    return api("GET", "/catalog/availability" + query).then(function (result) {
      var slots = result.slots;
      var byDay = {};
      slots.forEach(function (s) {
        var day = new Date(s.start_time).toLocaleDateString(undefined, {
          timeZone: offer.practitioner.timezone, weekday: "short", month: "short", day: "numeric",
        });
        (byDay[day] = byDay[day] || []).push(s);
      });
      var days = Object.keys(byDay);
      $("when").hidden = false;
      $("no-slots").hidden = days.length > 0;
      var dayBox = $("days");
      dayBox.textContent = "";
      days.forEach(function (day) {
        chip(dayBox, day, false, function () { showDay(byDay[day]); });
      });
    });
  }

  function showDay(slots) {
    var box = $("slots");
    box.textContent = "";
    slots.forEach(function (s) {
      var label = new Date(s.start_time).toLocaleTimeString(undefined, {
        timeZone: data.offer.practitioner.timezone, hour: "2-digit", minute: "2-digit",
      });
      chip(box, label, false, function () {
        chosen = { start_time: s.start_time, end_time: s.end_time };
        var when = $("chosen");
        when.textContent = new Date(s.start_time).toLocaleString(undefined, {
          timeZone: data.offer.practitioner.timezone, weekday: "long", month: "long", day: "numeric",
          hour: "2-digit", minute: "2-digit", timeZoneName: "short",
        });
        when.hidden = false;
        quote();
      });
    });
    if (box.firstChild) box.firstChild.focus();
  }

  function linkBody() {
    var body = {};
    if (chosen) { body.start_time = chosen.start_time; body.end_time = chosen.end_time; }
    if (coupon) body.coupon_code = coupon;
    return body;
  }

  function quote() {
    say("");
    return api("POST", "/links/" + encodeURIComponent(data.slug) + "/quote", linkBody()).then(function (q) {
      showQuote(q);
      $("continue").hidden = false;
    }).catch(function (err) {
      if (err.code && err.code.indexOf("COUPON") === 0) { coupon = null; }
      say(err.message, "error");
    });
  }

  function startLink() {
    showQuote(data.offer.quote);
    var form = $("coupon-form");
    if (form) {
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var value = $("coupon").value.trim();
        coupon = value || null;
        if (data.offer.service.type !== "session" || chosen) quote();
      });
    }
    $("continue").addEventListener("click", function () {
      var button = $("continue");
      button.disabled = true;
      var key = (window.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Date.now());
      api("POST", "/links/" + encodeURIComponent(data.slug) + "/checkout", linkBody(), { "Idempotency-Key": key })
        .then(function (created) {
          $("when").hidden = true;
          if (form) form.hidden = true;
          button.hidden = true;
          if (!created.requires_payment) return finish(created.order_id);
          return mountPayment(created.client_secret);
        })
        .catch(function (err) { button.disabled = false; say(err.message, "error"); });
    });
    if (data.offer.service.type === "session") {
      return loadSlots();
    }
    return quote();
  }

  // --- the card, through Stripe.js
  function mountPayment(clientSecret) {
    return api("GET", "/config").then(function (config) {
      stripe = window.Stripe(config.publishable_key);
      elements = stripe.elements({ clientSecret: clientSecret });
      var element = elements.create("payment");
      element.mount("#payment-element");
      $("payment").hidden = false;
      $("pay-form").addEventListener("submit", pay);
    });
  }

  function pay(ev) {
    ev.preventDefault();
    var button = $("pay-button");
    button.disabled = true;
    say("Processing…", "info");
    stripe.confirmPayment({ elements: elements, redirect: "if_required" }).then(function (result) {
      if (result.error) {
        button.disabled = false;
        var text = result.error.message || "The payment did not go through.";
        if (result.error.code === "payment_intent_authentication_failure") {
          text = "The card's authentication (3-D Secure) was not completed. Try again or use another card.";
        }
        say(text, "error");
        return;
      }
      currentIntent = result.paymentIntent;
      return api("POST", "/payment/confirm", { payment_intent_id: currentIntent.id }).then(function (done) {
        if (done.status === "completed") return finish(done.order_id);
        say("Your payment is being processed. We will email you when it completes.", "info");
      });
    }).catch(function (err) { button.disabled = false; say(err.message, "error"); });
  }

  function finish(orderId) {
    say("");
    $("payment").hidden = true;
    var after = data.offer ? data.offer.after_completion : null;
    if (after && after.type === "redirect" && after.url) {
      window.location.assign(after.url);
      return;
    }
    if (after && after.message) $("done-message").textContent = after.message;
    $("done-detail").textContent = "Order " + orderId;
    var done = $("done");
    done.hidden = false;
    done.focus();
  }

  // --- an open order's page
  function startOrder() {
    return api("GET", "/orders/" + encodeURIComponent(data.order_id) + "/payment").then(function (p) {
      $("summary").textContent = "Order total " + money(p.total_cents, p.currency) + ".";
      $("pay-button").textContent = "Pay " + money(p.total_cents, p.currency);
      if (!p.requires_payment) {
        $("summary").textContent = p.status === "completed" ? "This order is paid." : "This order can no longer be paid (" + p.status + ").";
        return;
      }
      return mountPayment(p.client_secret);
    }).catch(function (err) { say(err.message, "error"); });
  }

  function start() {
    if (data.slug) return startLink();
    return startOrder();
  }

  token = takeToken();
  if (!token) { needSignIn(); if (data.slug) showQuote(data.offer.quote); return; }
  start();
})();
