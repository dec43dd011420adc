// Value score (0-100) -> marker colour.  Shared by the page and the tests, so
// the tests can assert the exact fill of a marker for a known score.
export const SCORE_STOPS = [
  [0, [84, 104, 255]],   // #5468ff low value: cool blue
  [50, [43, 217, 166]],  // #2bd9a6 medium: teal
  [100, [255, 210, 63]], // #ffd23f high value: gold
];

export function scoreColor(score) {
  let s = Number(score);
  if (!Number.isFinite(s)) s = 0;
  s = Math.max(0, Math.min(100, s));
  for (let i = 1; i < SCORE_STOPS.length; i++) {
    const [s1, c1] = SCORE_STOPS[i];
    if (s <= s1) {
      const [s0, c0] = SCORE_STOPS[i - 1];
      const t = (s - s0) / (s1 - s0);
      const c = c0.map((v, k) => Math.round(v + (c1[k] - v) * t));
      return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
    }
  }
  const c = SCORE_STOPS[SCORE_STOPS.length - 1][1];
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}
