// Screenshots of a Thunderbird running on our private Xvfb display (tests/support/thunderbird.ts, xvfb: true):
// `xwd` (Debian x11-apps) dumps the screen or one window as XWD, converted here to PNG (zlib, no image library).
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { deflateSync } from "node:zlib";

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(data: Buffer): number {
  let c = 0xffffffff;
  for (const byte of data) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** RGB rows → PNG bytes. */
export function encodePng(width: number, height: number, rgb: Buffer): Buffer {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) rgb.copy(raw, y * (width * 3 + 1) + 1, y * width * 3, (y + 1) * width * 3);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // truecolour
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}

/** A 24/32-bit ZPixmap XWD (what xwd writes on a TrueColor Xvfb) → width, height and RGB rows. */
export function decodeXwd(xwd: Buffer): { width: number; height: number; rgb: Buffer } {
  // The header is always big-endian; byte_order (offset 28: 1 = MSBFirst) describes the pixel data.
  const u32 = (offset: number) => xwd.readUInt32BE(offset);
  const headerSize = xwd.readUInt32BE(0);
  const [format, width, height] = [u32(8), u32(16), u32(20)];
  const bitsPerPixel = u32(44);
  const bytesPerLine = u32(48);
  const [redMask, greenMask, blueMask] = [u32(56), u32(60), u32(64)];
  const colormapEntries = u32(76); // ncolors: XWDColor entries (12 bytes each) between header and pixels
  if (format !== 2 || (bitsPerPixel !== 32 && bitsPerPixel !== 24)) throw new Error(`unsupported XWD: format ${format}, ${bitsPerPixel} bpp`);
  const shift = (mask: number) => 31 - Math.clz32(mask & -mask);
  const [rs, gs, bs] = [shift(redMask), shift(greenMask), shift(blueMask)];
  const pixels = headerSize + colormapEntries * 12;
  const rgb = Buffer.alloc(width * height * 3);
  const bpp = bitsPerPixel / 8;
  const pixelBe = xwd.readUInt32BE(28) === 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const at = pixels + y * bytesPerLine + x * bpp;
      const v = bpp === 4 ? (pixelBe ? xwd.readUInt32BE(at) : xwd.readUInt32LE(at)) : pixelBe ? xwd.readUIntBE(at, 3) : xwd.readUIntLE(at, 3);
      const o = (y * width + x) * 3;
      rgb[o] = (v >>> rs) & 0xff;
      rgb[o + 1] = (v >>> gs) & 0xff;
      rgb[o + 2] = (v >>> bs) & 0xff;
    }
  }
  return { width, height, rgb };
}

function grab(display: string, windowId?: string): { width: number; height: number; rgb: Buffer } {
  const args = windowId ? ["-id", windowId, "-silent", "-display", display] : ["-root", "-silent", "-display", display];
  return decodeXwd(execFileSync("xwd", args, { maxBuffer: 256 * 1024 * 1024 }));
}

export interface Rect {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** A grab of one window (its own pixels even where a root grab shows black), to combine with a later root grab. */
export function grabWindow(display: string, windowId: string): { width: number; height: number; rgb: Buffer } {
  return grab(display, windowId);
}

/**
 * Saves a PNG of the display cropped to `crop`, where pixels that are pure black in the root grab are taken from
 * `underneath`, an earlier grab of the window at `crop`'s origin: on a display without a compositor a root grab
 * shows some Thunderbird windows (the compose window) as black.
 */
export function screenshotOver(display: string, file: string, underneath: { width: number; height: number; rgb: Buffer }, crop: Rect): { width: number; height: number } {
  const now = grab(display);
  const x0 = Math.max(0, crop.x);
  const y0 = Math.max(0, crop.y);
  const w = Math.min(now.width - x0, crop.width);
  const h = Math.min(now.height - y0, crop.height);
  const out = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = ((y0 + y) * now.width + (x0 + x)) * 3;
      const black = now.rgb[i] === 0 && now.rgb[i + 1] === 0 && now.rgb[i + 2] === 0;
      if (black && x < underneath.width && y < underneath.height) underneath.rgb.copy(out, (y * w + x) * 3, (y * underneath.width + x) * 3, (y * underneath.width + x) * 3 + 3);
      else now.rgb.copy(out, (y * w + x) * 3, i, i + 3);
    }
  }
  writeFileSync(file, encodePng(w, h, out));
  return { width: w, height: h };
}

/** Saves a PNG of the whole display, or of one X window (id from `xdotool search`). Returns the PNG's size. */
export function screenshot(display: string, file: string, windowId?: string): { width: number; height: number } {
  const args = windowId ? ["-id", windowId, "-silent", "-display", display] : ["-root", "-silent", "-display", display];
  const xwd = execFileSync("xwd", args, { maxBuffer: 256 * 1024 * 1024 });
  const { width, height, rgb } = decodeXwd(xwd);
  writeFileSync(file, encodePng(width, height, rgb));
  return { width, height };
}
