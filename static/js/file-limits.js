// Before a form is sent, refuse what its file fields would refuse after a long upload: a file
// above `data-max-bytes`, or more files than `data-max-files`. The message (`data-too-large`
// with {name}, `data-too-many`) goes in the field's "-browser" error line, and nothing typed is
// lost. Without JavaScript the server checks the same, and a body far too large gets a 413.
document.addEventListener("submit", (event) => {
  for (const input of event.target.querySelectorAll("input[type=file][data-max-bytes]")) {
    const files = Array.from(input.files || []);
    const tooLarge = files.find((file) => file.size > Number(input.dataset.maxBytes));
    let message = "";
    if (tooLarge) {
      message = input.dataset.tooLarge.replace("{name}", tooLarge.name);
    } else if (files.length > Number(input.dataset.maxFiles)) {
      message = input.dataset.tooMany;
    }
    const line = document.getElementById(`${input.id}-browser`);
    if (!line) continue;
    line.textContent = message;
    line.hidden = !message;
    if (message) {
      event.preventDefault();
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
  }
});
