// Numbers and times, the same way on every page.

/** "12 s ago", "3 min ago" from a Date, RFC 3339 text or Unix seconds (string or number). */
export function ago(value) {
  const date = toDate(value);
  if (!date) return '—';
  const seconds = Math.round((Date.now() - date.getTime()) / 1000);
  if (seconds < 0) return 'just now';
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

export function toDate(value) {
  if (value === null || value === undefined || value === '') return null;
  if (value instanceof Date) return value;
  if (typeof value === 'number' || /^\d+$/.test(value)) return new Date(Number(value) * 1000);
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** Local date and time, or — . */
export function when(value) {
  const date = toDate(value);
  return date ? date.toLocaleString() : '—';
}

/** Milliseconds, readable: "850 ms", "2.4 s". */
export function ms(value) {
  if (value === null || value === undefined) return '—';
  if (value < 1000) return `${Math.round(value * 10) / 10} ms`;
  return `${(value / 1000).toFixed(1)} s`;
}

export function mb(value) {
  if (value === null || value === undefined) return '—';
  return value >= 1024 ? `${(value / 1024).toFixed(1)} GB` : `${value} MB`;
}

export function pct(ratio) {
  return `${Math.round(ratio * 1000) / 10}%`;
}

/** The first 8 characters of an id, which is enough to tell ids apart on a page. */
export function short(id) {
  return id ? id.slice(0, 8) : '—';
}

/** Energy and CPU time of measured work, or why there is none. */
export function energy(energyWh, cpuSeconds) {
  if (energyWh === null || energyWh === undefined) return 'not measured';
  const wh = energyWh >= 1 ? energyWh.toFixed(2) : energyWh.toPrecision(2);
  return `${wh} Wh · ${(cpuSeconds ?? 0).toFixed(2)} CPU-s`;
}
