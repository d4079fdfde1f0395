// The standalone page (freightyard ui): pick a pipeline, draw it, act as the --by user.

async function start() {
  const root = document.getElementById("freightyard");
  const api = client("", {});
  let pipelines;
  try {
    pipelines = (await api.list()).pipelines;
  } catch (error) {
    root.textContent = `Freightyard: ${error.message}`;
    return;
  }
  const wanted = new URLSearchParams(location.search).get("pipeline");
  const name = (pipelines.find((p) => p.name === wanted) || pipelines[0] || {}).name;
  const picker = document.getElementById("freightyard-pipelines");
  for (const p of pipelines) {
    const option = document.createElement("option");
    option.value = p.name;
    option.textContent = `${p.name} (${p.stages} stages, ${p.apps} apps)`;
    option.selected = p.name === name;
    picker.appendChild(option);
  }
  picker.addEventListener("change", () => { location.search = `?pipeline=${encodeURIComponent(picker.value)}`; });
  if (!name) { root.textContent = "Freightyard: no pipelines found."; return; }
  await mount(root, api, name, { prompt: (q) => window.prompt(q, "") });
  document.body.setAttribute("data-ready", "true");
}

start();
