// Passkeys (WebAuthn): a button with data-options and data-finish URLs asks the server for
// options, has the browser's authenticator answer, and posts the answer back; the server
// replies {redirect} or {error}. Registration when data-mode="create", sign-in otherwise.
"use strict";

function csrfToken() {
  const field = document.querySelector('input[name="csrf_token"]');
  return field ? field.value : "";
}

async function post(url, body) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    body: body === undefined ? "{}" : JSON.stringify(body),
  });
  return [response.ok, await response.json()];
}

async function runCeremony(button) {
  const status = document.getElementById(button.dataset.status);
  status.textContent = "";
  const [ok, options] = await post(button.dataset.options);
  if (!ok) {
    status.textContent = options.error || button.dataset.failed;
    return;
  }
  let credential;
  try {
    credential = button.dataset.mode === "create"
      ? await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options) })
      : await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options) });
  } catch (error) {
    status.textContent = button.dataset.failed;
    return;
  }
  let finish = button.dataset.finish;
  const name = button.dataset.nameField && document.getElementById(button.dataset.nameField);
  if (name) {
    finish += "?name=" + encodeURIComponent(name.value);
  }
  const [accepted, answer] = await post(finish, credential.toJSON());
  if (accepted) {
    window.location.assign(answer.redirect);
  } else {
    status.textContent = answer.error || button.dataset.failed;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button[data-passkey]")) {
    button.addEventListener("click", () => runCeremony(button));
  }
});
