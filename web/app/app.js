// framesift live page: renders the state the run pushes (Server-Sent Events on /api/events) and sends
// the operator's controls as JSON POSTs to the same origin. No framework, no build step (docs/app.md).

const $ = (id) => document.getElementById(id);
const fmt = new Intl.NumberFormat('en');

let page = null; // the page options (first "page" event)
let state = null; // the latest "state" event
const editing = { threshold: false, rate: false }; // a control the operator is moving is not overwritten
const history = []; // [{tp, latency}] for the chart
const HISTORY = 120;

async function post(path, body) {
  const response = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  let json = {};
  try {
    json = await response.json();
  } catch {
    // an empty or non-JSON answer: the status says enough
  }
  return { ok: response.ok, status: response.status, json };
}

function showBanner(text) {
  const banner = $('banner');
  banner.textContent = text ?? '';
  banner.hidden = !text;
}

// ---- page options (once per connection) ----

function applyPage(p) {
  const firstTime = page === null;
  page = p;
  document.title = p.title;
  $('title').textContent = p.title;
  $('order-label').textContent = p.inputTextTitle;
  $('order').placeholder = p.inputTextPlaceholder;
  const gallery = $('gallery');
  gallery.style.setProperty('--cols', String(p.galleryNColumns));
  document.documentElement.style.setProperty('--cols', String(p.galleryNColumns));
  if (p.galleryOverallHeight) {
    gallery.classList.add('scroll');
    gallery.style.maxHeight = `${p.galleryOverallHeight}px`;
  }
  // The live frame is pushed IMAGE_DISPLAY_WIDTH wide: shown at that width at most.
  $('frame').style.maxWidth = `${p.imageDisplayWidth}px`;
  $('start').hidden = !p.canStart;
  const rate = $('rate');
  rate.min = String(p.imagesPerSecond.min);
  rate.max = String(p.imagesPerSecond.max);
  if (firstTime) {
    const select = $('resolution');
    select.replaceChildren(
      ...p.resolutions.map((w) => {
        const option = document.createElement('option');
        option.value = String(w);
        option.textContent = `${w} px`;
        return option;
      }),
    );
    select.value = String(p.resolutions[p.resolutionInitIdx]);
    const radios = document.querySelectorAll('input[name="saveas"]');
    const choice = p.saveAsChoices[p.saveAsInitIdx] ?? 'images';
    for (const radio of radios) {
      radio.checked = radio.value === (choice === 'video' && !p.video.available ? 'images' : choice);
      if (radio.value === 'video') radio.disabled = !p.video.available;
    }
    $('video-codec').textContent = p.video.codec ? ` (${p.video.codec})` : '';
    $('video-note').textContent = `video: ${p.video.note}`;
    $('order').value = localStorage.getItem('framesift.order') ?? '';
  }
}

// ---- live state ----

function setCount(id, value) {
  const el = $(id);
  const text = value === null || value === undefined ? '–' : fmt.format(value);
  if (el.textContent !== text) el.textContent = text;
}

function applyState(s) {
  state = s;
  const run = s.run;
  const badge = $('run-state');
  badge.dataset.state = run.state;
  badge.textContent = run.state;
  $('run-source').textContent = run.source ? `source ${run.source}` : '';
  $('start').disabled = !run.canStart;
  $('stop').disabled = !run.canStop;
  showBanner(run.error ? `session failed: ${run.error}` : '');

  const c = s.counts;
  for (const key of ['received', 'processed', 'kept', 'duplicates', 'dropped', 'missing', 'invalid']) {
    setCount(`count-${key}`, c[key]);
  }
  $('accuracy-box').hidden = !s.classify;
  if (s.classify) {
    $('accuracy').textContent =
      s.classify.accuracy === null ? 'after scoring' : `${(s.classify.accuracy * 100).toFixed(2)} %`;
  }

  const tp = s.throughput;
  $('tp').textContent = tp.processedPerSecond.toFixed(1);
  $('latency').textContent = tp.latencyMs === null ? '–' : `${tp.latencyMs.toFixed(0)} ms`;
  $('rate-measured').textContent = tp.receivedPerSecond.toFixed(1);
  if (run.state === 'streaming') {
    history.push({ tp: tp.processedPerSecond, latency: tp.latencyMs ?? 0 });
    if (history.length > HISTORY) history.shift();
    drawChart();
  }

  const threshold = $('threshold');
  $('threshold-field').hidden = !s.threshold;
  if (s.threshold) {
    threshold.disabled = false;
    threshold.min = String(s.threshold.min);
    threshold.max = String(s.threshold.max);
    threshold.step = String(s.threshold.step);
    if (!editing.threshold) {
      threshold.value = String(s.threshold.value);
      $('threshold-value').textContent = formatThreshold(s.threshold.value);
    }
    const metric = s.threshold.metric ? ` (${s.threshold.metric})` : '';
    $('threshold-meaning').textContent =
      `${s.threshold.method}${metric}: ${s.threshold.meaning}. A frame at or below the threshold from a kept image is a duplicate; lower keeps more.`;
  }

  const rate = $('rate');
  rate.disabled = run.state !== 'streaming';
  if (!editing.rate) {
    rate.value = String(s.rate.fps);
    $('rate-value').textContent = `${s.rate.fps}`;
  }
  if (document.activeElement !== $('resolution')) $('resolution').value = String(s.resolution);

  const camera = $('camera');
  camera.hidden = !s.camera;
  if (s.camera) {
    $('camera-state').dataset.state = s.camera.state;
    $('camera-state').textContent =
      s.camera.state === 'failing' ? `failing (${s.camera.consecutiveFailures} in a row)` : s.camera.state;
    $('camera-errors').textContent = fmt.format(s.camera.errors);
    $('camera-error').textContent =
      s.camera.state === 'failing' && s.camera.lastError ? s.camera.lastError : '';
  }

  const saves = $('saves');
  const items = s.saves.map((save) => {
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = save.url;
    a.target = '_blank';
    a.textContent = save.name;
    li.append(
      a,
      save.saveAs === 'video'
        ? ` — video of ${save.uniques + save.duplicates} frames`
        : ` — ${save.uniques} images`,
    );
    return li;
  });
  if (saves.childElementCount !== items.length) saves.replaceChildren(...items);
}

function formatThreshold(value) {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
}

function drawChart() {
  const canvas = $('chart');
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth * ratio;
  const height = canvas.clientHeight * ratio;
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, width, height);
  const line = (key, color) => {
    const max = Math.max(1, ...history.map((h) => h[key])) * 1.15;
    ctx.strokeStyle = color;
    ctx.lineWidth = 2 * ratio;
    ctx.beginPath();
    // The newest point at the right edge: the chart scrolls left as updates come.
    const offset = HISTORY - history.length;
    history.forEach((h, i) => {
      const x = ((i + offset) / (HISTORY - 1)) * width;
      const y = height - (h[key] / max) * (height - 6 * ratio) - 3 * ratio;
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    ctx.stroke();
  };
  line('tp', '#1f6feb');
  line('latency', '#b35900');
}

function applyFrame(f) {
  $('frame').src = f.src;
  $('frame-seq').textContent = `seq ${fmt.format(f.seq)}`;
  $('prediction').textContent = f.prediction
    ? `· ${f.prediction.label} (${(f.prediction.confidence * 100).toFixed(1)} %)`
    : '';
}

// ---- gallery ----

const tiles = new Map(); // key → element, so a new list only adds the new tiles

function imageUrl(streamId, seq, width) {
  return `/api/image?stream=${encodeURIComponent(streamId)}&seq=${seq}&w=${width}`;
}

function tileFor(item) {
  const key = `${item.streamId}\u0000${item.seq}`;
  let tile = tiles.get(key);
  if (tile) return tile;
  tile = document.createElement('button');
  tile.type = 'button';
  tile.className = 'tile';
  tile.dataset.seq = String(item.seq);
  const img = document.createElement('img');
  img.loading = 'lazy';
  img.alt = `kept seq ${item.seq}`;
  img.src = imageUrl(item.streamId, item.seq, 240);
  const caption = document.createElement('span');
  const time = new Date(item.keptAt).toLocaleTimeString();
  const distance = item.nearest === null ? 'first' : `d ${item.nearest.toPrecision(3)}`;
  caption.textContent = `#${item.seq} · ${time} · ${distance}`;
  caption.title = item.file ?? '';
  tile.append(img, caption);
  tile.addEventListener('click', () => openDetail(item));
  tiles.set(key, tile);
  return tile;
}

function applyGallery(g) {
  const list = g.items.map(tileFor);
  const keep = new Set(list);
  for (const [key, tile] of tiles) if (!keep.has(tile)) tiles.delete(key);
  $('gallery').replaceChildren(...list);
  $('gallery-count').textContent =
    g.total > g.items.length ? `(${g.total}, newest ${g.items.length} shown)` : `(${g.total})`;
}

async function openDetail(item) {
  const dialog = $('detail');
  const width = Number($('resolution').value);
  $('detail-title').textContent = `Kept image #${item.seq}`;
  $('detail-image').src = imageUrl(item.streamId, item.seq, width);
  $('detail-info').textContent = 'loading…';
  $('detail-dups').replaceChildren();
  if (!dialog.open) dialog.showModal();
  const response = await fetch(`/api/unique?stream=${encodeURIComponent(item.streamId)}&seq=${item.seq}`);
  if (!response.ok) {
    $('detail-info').textContent = 'this image is no longer held by the run';
    return;
  }
  const d = await response.json();
  const nearest =
    d.nearest === undefined
      ? 'the first kept image'
      : `distance ${d.nearest.toPrecision(3)} to its nearest kept neighbour`;
  $('detail-info').textContent =
    `${d.file ? `${d.file} · ` : ''}${d.width}×${d.height} · kept ${new Date(d.keptAt).toLocaleTimeString()} · ${nearest} · ${d.duplicates} duplicates absorbed`;
  $('detail-dup-h').textContent =
    d.duplicates > d.absorbed.length
      ? `Duplicates it absorbed (first ${d.absorbed.length} of ${d.duplicates})`
      : 'Duplicates it absorbed';
  $('detail-dups').replaceChildren(
    ...d.absorbed.map((dup) => {
      const figure = document.createElement('figure');
      if (dup.image) {
        const img = document.createElement('img');
        img.loading = 'lazy';
        img.src = imageUrl(d.streamId, dup.seq, 240);
        img.alt = `duplicate seq ${dup.seq}`;
        figure.append(img);
      }
      const caption = document.createElement('figcaption');
      caption.textContent = `#${dup.seq} · d ${dup.distance.toPrecision(3)}`;
      figure.append(caption);
      return figure;
    }),
  );
  if (d.absorbed.length === 0) $('detail-dups').textContent = 'none yet';
}

// ---- controls ----

function slider(id, key, send) {
  const input = $(id);
  input.addEventListener('input', () => {
    editing[key] = true;
    $(`${id}-value`).textContent = key === 'threshold' ? formatThreshold(Number(input.value)) : input.value;
  });
  input.addEventListener('change', async () => {
    const { ok, json } = await send(Number(input.value));
    editing[key] = false;
    if (!ok) showBanner(json.error ?? `${id} could not be changed`);
  });
  input.addEventListener('blur', () => (editing[key] = false));
}

slider('threshold', 'threshold', (threshold) => post('/api/threshold', { threshold }));
slider('rate', 'rate', (fps) => post('/api/rate', { fps }));

$('resolution').addEventListener('change', async (event) => {
  const { ok, json } = await post('/api/settings', { resolution: Number(event.target.value) });
  if (!ok) showBanner(json.error ?? 'resolution could not be changed');
});

$('start').addEventListener('click', async () => {
  const { ok, json } = await post('/api/start', {});
  if (!ok) showBanner(json.error ?? 'the session could not be started');
});
$('stop').addEventListener('click', async () => {
  const { ok, json } = await post('/api/stop', {});
  if (!ok) showBanner(json.error ?? 'the session could not be stopped');
});

$('order').addEventListener('input', (event) => localStorage.setItem('framesift.order', event.target.value));

$('save-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const message = $('save-message');
  const name = $('order').value.trim();
  message.className = 'message';
  if (name === '') {
    message.classList.add('error');
    message.textContent = `${page?.inputTextTitle ?? 'Order number'}: please enter one before saving.`;
    return;
  }
  const saveAs = document.querySelector('input[name="saveas"]:checked')?.value ?? 'images';
  $('save').disabled = true;
  message.textContent = saveAs === 'video' ? 'saving: encoding the video…' : 'saving…';
  try {
    const { ok, json } = await post('/api/save', { name, saveAs, resolution: Number($('resolution').value) });
    if (!ok) {
      message.classList.add('error');
      message.textContent = `Not saved: ${json.error ?? 'the run refused the save'}`;
      return;
    }
    message.classList.add('ok');
    const folderUrl = `/saved/${encodeURIComponent(json.name)}/`;
    const link = (href, text) => {
      const a = document.createElement('a');
      a.href = href;
      a.target = '_blank';
      a.textContent = text;
      return a;
    };
    if (json.saveAs === 'video' && json.video) {
      const file = json.video.split(/[\\/]/).pop();
      const frames = json.uniques + json.duplicates;
      message.replaceChildren(
        `Saved a video of ${frames} frames (${file}, listed in the manifest) to ${json.folder} — `,
        link(`${folderUrl}${encodeURIComponent(file)}`, 'play the video'),
        ' · ',
        link(folderUrl, 'open its contents'),
      );
    } else {
      message.replaceChildren(
        `Saved ${json.uniques} images (and ${json.duplicates} duplicates in the manifest) to ${json.folder} — `,
        link(folderUrl, 'open its contents'),
      );
    }
  } catch (err) {
    message.classList.add('error');
    message.textContent = `Not saved: ${err.message}`;
  } finally {
    $('save').disabled = false;
  }
});

// ---- connection (EventSource reconnects by itself; a reload picks the session up again) ----

function connect() {
  const events = new EventSource('/api/events');
  events.addEventListener('page', (e) => applyPage(JSON.parse(e.data)));
  events.addEventListener('state', (e) => applyState(JSON.parse(e.data)));
  events.addEventListener('gallery', (e) => applyGallery(JSON.parse(e.data)));
  events.addEventListener('frame', (e) => applyFrame(JSON.parse(e.data)));
  events.addEventListener('open', () => {
    if (state) showBanner(state.run.error ? `session failed: ${state.run.error}` : '');
  });
  events.addEventListener('error', () => {
    const badge = $('run-state');
    badge.dataset.state = 'offline';
    badge.textContent = 'reconnecting…';
    $('stop').disabled = true;
  });
}

connect();
