// The console's shell: sign-in, navigation and the hash router (#/, #/person/<id>,
// #/campaign/<id>, #/band/<band>). Views live in views.js; every call goes through api.js.

import { ApiError, KeyRefused, get, session } from "./api.js";
import { h } from "./dom.js";
import * as views from "./views.js";

const view = document.getElementById("view");
const login = document.getElementById("login");
const loginMessage = document.getElementById("login-message");
const nav = document.getElementById("nav");
let bandPages = { name: null, cursors: [undefined] };
let rendering = 0;

function showLogin(message) {
  nav.hidden = true;
  view.replaceChildren();
  login.hidden = false;
  loginMessage.hidden = !message;
  loginMessage.textContent = message ?? "";
  document.getElementById("api-key").focus();
}

function route() {
  const [, name = "", ...rest] = location.hash.replace(/^#/, "").split("/");
  return { name, argument: rest.length ? decodeURIComponent(rest.join("/")) : "" };
}

async function render() {
  if (!session.key()) {
    showLogin();
    return;
  }
  login.hidden = true;
  nav.hidden = false;
  const ticket = ++rendering; // a slower, older render must not overwrite a newer one
  const target = h("div", { class: "view", "data-view": "loading" });
  view.replaceChildren(target);
  const { name, argument } = route();
  try {
    if (name === "person" && argument) {
      target.dataset.view = "person";
      await views.person(target, argument);
    } else if (name === "campaign" && argument) {
      target.dataset.view = "campaign";
      await views.campaign(target, argument);
    } else if (name === "band" && argument) {
      target.dataset.view = "band";
      if (bandPages.name !== argument) bandPages = { name: argument, cursors: [undefined] };
      await views.band(target, argument, {
        cursor: bandPages.cursors.at(-1),
        hasPrevious: bandPages.cursors.length > 1,
        go: (direction, cursor) => {
          if (direction === "next") bandPages.cursors.push(cursor);
          else bandPages.cursors.pop();
          render();
        },
      });
    } else {
      target.dataset.view = "overview";
      await views.overview(target);
    }
    if (ticket === rendering) target.dataset.ready = "true";
  } catch (error) {
    if (error instanceof KeyRefused) {
      showLogin(`${error.message} Sign in again with a valid key.`);
      return;
    }
    if (ticket !== rendering) return;
    target.append(
      h("p", { class: "message", role: "alert" }, `Could not load this view: ${error.message}${error.status ? ` (HTTP ${error.status})` : ""}.`),
    );
    target.dataset.ready = "error";
  }
}

document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault(); // never a form post: the key goes to sessionStorage, not to a server
  const key = new FormData(event.target).get("key").trim();
  if (!key) return;
  session.remember(key);
  try {
    await get("v1/overview"); // one authenticated call tells a refused key from a good one
  } catch (error) {
    if (error instanceof KeyRefused) {
      showLogin("That API key was refused (401 unauthorized). Use the key printed on make run's ready line.");
      return;
    }
    if (!(error instanceof ApiError)) {
      session.forget(); // the API was not reached at all: nothing is known about the key
      showLogin(`The API could not be reached: ${error.message}.`);
      return;
    }
    // Any other answer got past the key check; the view shows what went wrong.
  }
  event.target.reset();
  render();
});

function goTo(formId, hashOf) {
  document.getElementById(formId).addEventListener("submit", (event) => {
    event.preventDefault();
    const value = new FormData(event.target).values().next().value.trim();
    if (value) location.hash = hashOf(encodeURIComponent(value));
  });
}
goTo("find-person", (id) => `#/person/${id}`);
goTo("find-campaign", (id) => `#/campaign/${id}`);
goTo("find-band", (band) => `#/band/${band}`);

document.getElementById("sign-out").addEventListener("click", () => {
  session.forget();
  showLogin("Signed out.");
});

window.addEventListener("hashchange", render);
render();
