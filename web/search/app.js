// The search demo page: a query image on top (an indexed image by id, or a picked/dropped file), its 20
// most similar below (the image itself first), and its feature vector drawn as a square heat map.
'use strict';

const K = 20;
const $ = (id) => document.getElementById(id);

function setStatus(text, isError = false) {
  $('status').textContent = text;
  $('status').classList.toggle('error', isError);
}

async function getJson(response) {
  const body = await response.json();
  if (!response.ok) throw new Error(`${body.code}: ${body.error}`);
  return body;
}

/** Values → a square of cells (side = ceil(sqrt(n))), blue (low) through white to red (high). */
function drawVector(vector) {
  const canvas = $('vector');
  const side = Math.ceil(Math.sqrt(vector.length));
  canvas.width = side;
  canvas.height = side;
  const ctx = canvas.getContext('2d');
  const image = ctx.createImageData(side, side);
  // Scale to the 98th percentile of |v|: a few large activations would otherwise wash the rest out.
  const magnitudes = Array.from(vector, Math.abs).sort((a, b) => a - b);
  const max =
    magnitudes[Math.floor(0.98 * (magnitudes.length - 1))] || magnitudes[magnitudes.length - 1] || 0;
  for (let i = 0; i < side * side; i++) {
    const p = i * 4;
    if (i >= vector.length) {
      image.data.set([200, 200, 200, 255], p);
      continue;
    }
    const t = max > 0 ? Math.max(-1, Math.min(1, vector[i] / max)) : 0; // -1 … 1
    const a = Math.abs(t);
    const r = t >= 0 ? 255 : Math.round(255 * (1 - a));
    const b = t <= 0 ? 255 : Math.round(255 * (1 - a));
    const g = Math.round(255 * (1 - a));
    image.data.set([r, g, b, 255], p);
  }
  ctx.putImageData(image, 0, 0);
  $('vector-caption').textContent =
    `feature vector: ${vector.length} values as a ${side}×${side} square (blue < 0 < red, scaled to the 98th percentile)`;
}

function showResults(hits, selfId) {
  const list = $('results');
  list.replaceChildren();
  for (const hit of hits) {
    const item = document.createElement('li');
    item.tabIndex = 0;
    item.dataset.id = String(hit.id);
    if (hit.id === selfId) item.classList.add('self');
    const img = document.createElement('img');
    img.src = hit.fileUrl;
    img.alt = hit.name;
    img.loading = 'lazy';
    // A video frame: marked on its thumbnail with its time (the name may be cut short).
    if (hit.video) {
      item.classList.add('video');
      const badge = document.createElement('span');
      badge.className = 'badge';
      badge.textContent = `▶ ${hit.video.time}`;
      badge.title = `frame of the video ${hit.video.path} at ${hit.video.time}`;
      item.append(badge);
    }
    const distance = document.createElement('span');
    distance.className = 'distance';
    distance.textContent = hit.distance.toFixed(4);
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = `#${hit.id} ${hit.name}`;
    name.title = hit.path;
    item.append(img, distance, name);
    const open = () => showImage(hit.id);
    item.addEventListener('click', open);
    item.addEventListener('keydown', (e) => e.key === 'Enter' && open());
    list.append(item);
  }
}

async function showImage(id) {
  const exact = $('exact').checked ? '&exact=1' : '';
  setStatus(`searching image ${id}…`);
  try {
    const [image, neighbours, vector] = await Promise.all([
      fetch(`/api/images/${id}`).then(getJson),
      fetch(`/api/images/${id}/neighbours?k=${K}${exact}`).then(getJson),
      fetch(`/api/images/${id}/vector`).then(getJson),
    ]);
    $('image-id').value = String(id);
    $('query-image').src = image.fileUrl;
    $('query-image').alt = image.name;
    $('drop-hint').textContent = 'Drop an image here to search with it';
    $('query-title').textContent = `#${image.id} ${image.name}`;
    const kib = `${(image.size / 1024).toFixed(0)} KiB`;
    // A video frame's size and hash are its video's: say so.
    $('query-info').textContent = image.video
      ? `frame at ${image.video.time} of the video ${image.video.path}, ${image.width}×${image.height} (video file ${kib})`
      : `${image.width}×${image.height}, ${kib}`;
    $('result-note').textContent = `(${neighbours.source}; cosine distance, the image itself first)`;
    drawVector(vector.vector);
    showResults(neighbours.neighbours, id);
    history.replaceState(null, '', `#${id}`);
    setStatus(`${neighbours.neighbours.length} results`);
  } catch (err) {
    setStatus(String(err.message || err), true);
  }
}

async function searchFile(file) {
  const exact = $('exact').checked ? '&exact=1' : '';
  setStatus(`searching with ${file.name}…`);
  try {
    const result = await fetch(`/api/search?k=${K}${exact}`, {
      method: 'POST',
      headers: { 'content-type': file.type || 'application/octet-stream' },
      body: file,
    }).then(getJson);
    $('query-image').src = URL.createObjectURL(file);
    $('query-image').alt = file.name;
    $('query-title').textContent = file.name;
    $('query-info').textContent =
      `${result.query.width}×${result.query.height}, ${(file.size / 1024).toFixed(0)} KiB (uploaded)`;
    $('result-note').textContent = '(cosine distance to the uploaded image)';
    drawVector(result.query.vector);
    showResults(result.hits, -1);
    setStatus(`${result.hits.length} results`);
  } catch (err) {
    setStatus(String(err.message || err), true);
  }
}

$('pick').addEventListener('submit', (e) => {
  e.preventDefault();
  showImage(Number($('image-id').value));
});
$('file').addEventListener('change', () => {
  const file = $('file').files[0];
  if (file) searchFile(file);
});
const drop = $('drop');
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const file = e.dataTransfer.files[0];
  if (file) searchFile(file);
});
$('exact').addEventListener('change', () => showImage(Number($('image-id').value)));

showImage(Number(location.hash.slice(1)) || 1);
