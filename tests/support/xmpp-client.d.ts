// Typings for the stock @xmpp/client, used in tests and benchmarks as an independent peer.
declare module "@xmpp/client" {
  import type { Element } from "@xmpp/xml";
  import xmlFn from "@xmpp/xml";
  export const xml: typeof xmlFn;
  export interface StockClient {
    start(): Promise<unknown>;
    stop(): Promise<void>;
    send(element: Element): Promise<void>;
    on(event: "stanza" | "online" | "error" | "offline" | "status", listener: (arg: never) => void): void;
    iqCaller: { request(stanza: Element, timeout?: number): Promise<Element> };
    jid: { toString(): string } | null;
    streamManagement: { enabled: boolean; requestAckDebounce: number };
  }
  export function client(options: {
    service: string;
    domain?: string;
    username?: string;
    password?: string;
    resource?: string;
  }): StockClient;
}
