// The exported page's script (app/export.py fills __DATA__, __SCAPE__, __HEADERS__).
const DATA = __DATA__, SCAPE = __SCAPE__, HEADERS = __HEADERS__;
const $ = id => document.getElementById(id);
const grow = (ys, t) => { const w = Math.floor(t), xs = [], out = [];
  for (let i = 0; i <= w; i++) { xs.push(i); out.push(ys[i]); }
  if (t > w) { xs.push(t); out.push(ys[w] * (1 - (t - w)) + ys[w + 1] * (t - w)); }
  return [xs, out]; };
function draw(t) {
  const tok = DATA.tokens[+$('token').value], s = Math.floor(t);
  const flat = tok.energies.flat(), lo = Math.min(...flat), hi = Math.max(...flat);
  const pad = 0.05 * (hi - lo) || 0.05, traces = [];
  tok.energies.forEach((ys, i) => { if (i !== tok.chosen) traces.push(line(ys, t, i, false)); });
  traces.push(line(tok.energies[tok.chosen], t, tok.chosen, true));
  Plotly.react('energy', traces, {title: `Token ${$('token').value} '${tok.char}': ` +
    `${tok.energies.length} candidate(s), red = chosen`, height: 320, showlegend: false,
    xaxis: {title: {text: 'descent step'}, range: [-0.1, tok.steps + 0.1], dtick: 1},
    yaxis: {title: {text: 'energy'}, range: [lo - pad, hi + pad]}, margin: {l: 55, r: 15, t: 50, b: 45}});
  const top = tok.topk[s];
  Plotly.react('topk', [{type: 'bar', x: top.map(p => p[0]), y: top.map(p => p[1]),
    text: top.map(p => Math.round(100 * p[1]) + '%'), textposition: 'outside',
    marker: {color: '#d62728'}}], {title: `Top-${top.length} of candidate ${tok.chosen} at step ${s}`,
    height: 320, xaxis: {type: 'category', title: {text: 'character'}},
    yaxis: {range: [0, 1.1], title: {text: 'probability'}}, margin: {l: 55, r: 15, t: 50, b: 45}});
  const e = tok.energies[tok.chosen][s];
  $('step-label').textContent = `step ${s} of ${tok.steps}`;
  $('summary').textContent = `Token ${$('token').value} ('${tok.char}'), step ${s} of ` +
    `${tok.steps}: the chosen candidate ${tok.chosen} has energy ${e.toFixed(3)}.`;
  if (DATA.answer) Plotly.react('answer', DATA.answer[s].data, DATA.answer[s].layout);
}
function line(ys, t, i, chosen) { const [x, y] = grow(ys, t);
  return {x, y, mode: chosen ? 'lines+markers' : 'lines', name: `candidate ${i}`,
    line: {width: chosen ? 4 : 1.5, color: chosen ? '#d62728' : '#7f7f7f'}, opacity: chosen ? 1 : 0.6}; }
function table() { const tok = DATA.tokens[+$('token').value];
  $('table').innerHTML = '<tr>' + HEADERS.map(h => `<th>${h}</th>`).join('') + '</tr>' +
    tok.table.map(r => '<tr>' + r.map(c => `<td>${String(c).replace(/</g, '&lt;')}</td>`).join('') +
    '</tr>').join(''); }
function selectToken() { const tok = DATA.tokens[+$('token').value];
  $('step').max = tok.steps; $('step').value = tok.steps; table(); draw(tok.steps); }
let timer = null;
$('play').onclick = () => { if (timer) clearInterval(timer);
  const tok = DATA.tokens[+$('token').value], frames = Math.max(tok.steps * 4, 12); let f = 0;
  timer = setInterval(() => { f += 1; const t = tok.steps * f / frames;
    $('step').value = Math.floor(t); draw(t); if (f >= frames) { clearInterval(timer); timer = null; } },
    250); draw(0); };
$('step').oninput = () => draw(+$('step').value);
$('token').onchange = selectToken;
selectToken();
if (SCAPE) Plotly.newPlot('landscape', SCAPE.data, SCAPE.layout);
