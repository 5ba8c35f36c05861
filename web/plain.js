// Plain-JavaScript versions of a few kernels, for the timing comparison on the demo page only.
// They are the straightforward loops a JS author would write (not ports of the Rust code),
// and nothing else uses them: the page's results come from the wasm kernels.

export function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

// A left-to-right loop (the kernel sums pairwise, so the last bits can differ).
export function sum(x) {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s;
}

// The built-in typed-array sort (numeric order, NaN last, like the kernel).
export function sort(x) {
  return Float64Array.from(x).sort();
}

export function mandelbrot(width, height, x0, y0, x1, y1, maxIter) {
  const out = new Uint32Array(width * height);
  for (let r = 0; r < height; r++) {
    const cy = y0 + (r * (y1 - y0)) / height;
    for (let c = 0; c < width; c++) {
      const cx = x0 + (c * (x1 - x0)) / width;
      let zr = 0, zi = 0, n = 0;
      while (n < maxIter) {
        const zr2 = zr * zr, zi2 = zi * zi;
        if (zr2 + zi2 > 4) break;
        zi = 2 * zr * zi + cy;
        zr = zr2 - zi2 + cx;
        n++;
      }
      out[r * width + c] = n;
    }
  }
  return out;
}

export function countPrimes(n) {
  if (n < 3) return 0;
  const composite = new Uint8Array(n);
  let count = 0;
  for (let i = 2; i < n; i++) {
    if (composite[i]) continue;
    count++;
    for (let j = i * i; j < n; j += i) composite[j] = 1;
  }
  return count;
}

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, i) => {
  let c = i;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});

export function crc32(data) {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
