// Charts drawn with uPlot (vendored by `make vendor`, loaded as the global `uPlot`). Each chart
// element records what was drawn (series and points, read back from the uPlot instance) in its
// data attributes, so a test can check the picture against the data it posted.

export const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2"];
export const BAND_COLORS = {
  hot: "#dc2626",
  warm: "#ea580c",
  cold: "#2563eb",
  churning: "#6b7280",
  suppressed: "#111827",
};
const HEIGHT = 220;
const AXIS = { stroke: "#6b7280", grid: { stroke: "#e5e7eb", width: 1 }, ticks: { stroke: "#e5e7eb", width: 1 } };

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

// Axis labels in UTC whatever the browser's zone or locale, as every time the console prints:
// days ("Nov 21") over long ranges, hours ("18:00", the day at midnight) over a few days.
function timeLabels(u, splits) {
  const hourly = u.scales.x.max - u.scales.x.min <= 3 * 86_400;
  return splits.map((ts) => {
    const at = new Date(ts * 1000);
    const day = `${MONTHS[at.getUTCMonth()]} ${at.getUTCDate()}`;
    const hour = at.getUTCHours();
    return hourly && hour ? `${String(hour).padStart(2, "0")}:00` : day;
  });
}

function mount(element, options, data) {
  element.replaceChildren();
  const width = Math.max(300, Math.floor(element.getBoundingClientRect().width) || 600);
  const chart = new uPlot({ width, height: HEIGHT, ...options }, data, element);
  element.dataset.series = String(chart.series.length - 1);
  element.dataset.points = String(chart.data[0].length);
  element.dataset.rendered = "true";
  return chart;
}

function marker(at, label) {
  // A dashed vertical line at `at` (seconds): "now" on a curve that runs into the future.
  return (u) => {
    const x = u.valToPos(at, "x", true);
    if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
    const ctx = u.ctx;
    ctx.save();
    ctx.strokeStyle = "#111827";
    ctx.setLineDash([4, 4]);
    ctx.beginPath();
    ctx.moveTo(x, u.bbox.top);
    ctx.lineTo(x, u.bbox.top + u.bbox.height);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = "#111827";
    ctx.font = `${12 * devicePixelRatio}px sans-serif`;
    ctx.fillText(label, x + 4 * devicePixelRatio, u.bbox.top + 12 * devicePixelRatio);
    ctx.restore();
  };
}

// Lines over time. `xs` are epoch seconds; a null value leaves a gap (a score the aggregate
// cannot give for that instant).
export function timeChart(element, { xs, series, yLabel, range, now, bars = false }) {
  const options = {
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"), // ticks at UTC midnights and hours
    scales: { x: { time: true }, y: range ? { range: () => range } : { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
    axes: [{ ...AXIS, space: 70, values: timeLabels }, { ...AXIS, label: yLabel, size: 56 }],
    series: [
      { label: "" },
      ...series.map((s, i) => {
        const color = s.color ?? PALETTE[i % PALETTE.length];
        return bars
          ? { label: s.label, stroke: color, fill: color, width: 1, points: { show: false },
              paths: uPlot.paths.bars({ size: [0.8, 40] }) }
          : s.sparse
            ? { label: s.label, stroke: color, width: 1, dash: [2, 3], points: { show: true, size: 6, fill: color }, spanGaps: true }
            : { label: s.label, stroke: color, width: 2, points: { show: xs.length <= 60 }, spanGaps: false };
      }),
    ],
    hooks: now === undefined ? {} : { draw: [marker(now, "now")] },
    // A key to the colours, not a read-out: values are in the table beside the chart.
    legend: { show: series.length > 1, live: false },
  };
  return mount(element, options, [xs, ...series.map((s) => s.values)]);
}

// Bars over named categories (bands, campaigns, funnel stages, members of a page).
export function barChart(element, { labels, series, yLabel, range }) {
  const xs = labels.map((_, i) => i);
  const options = {
    scales: {
      x: { time: false, range: () => [-0.5, Math.max(0.5, labels.length - 0.5)] },
      y: range ? { range: () => range } : { range: (u, min, max) => [0, Math.max(1, max * 1.1)] },
    },
    axes: [
      { ...AXIS, grid: { show: false }, splits: () => xs, values: (u, splits) => splits.map((i) => labels[i] ?? "") },
      { ...AXIS, label: yLabel, size: 56 },
    ],
    series: [
      { label: "", value: (u, i) => labels[i] ?? "" },
      ...series.map((s, i) => {
        const color = s.color ?? PALETTE[i % PALETTE.length];
        return {
          label: s.label,
          stroke: color,
          fill: color,
          width: 1,
          points: { show: false },
          // Per-bar colours (a band's own colour) when the series gives them.
          paths: uPlot.paths.bars({
            size: [0.6, 80],
            align: 0,
            disp: s.colors
              ? { fill: { unit: 3, values: () => s.colors }, stroke: { unit: 3, values: () => s.colors } }
              : undefined,
          }),
        };
      }),
    ],
    legend: { show: series.length > 1, live: false },
  };
  return mount(element, options, [xs, ...series.map((s) => s.values)]);
}

export function chartBox(name) {
  const element = document.createElement("div");
  element.className = "chart";
  element.dataset.chart = name;
  return element;
}
