// Runtime checks for what a page receives from the background (a page displays nothing unchecked).

export type Fields = Readonly<Record<string, unknown>>;
export const isObject = (v: unknown): v is Fields => typeof v === "object" && v !== null && !Array.isArray(v);
export const isFiniteNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
export const optionalString = (v: unknown): v is string | undefined => v === undefined || typeof v === "string";
