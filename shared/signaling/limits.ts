/** Bounds on what crosses the signaling boundary; the server enforces them, the client respects them. */
export const SIGNALING_LIMITS = {
  /** Largest JSON payload of one request, in bytes (Chrome's RTP capabilities are ~8 KB). */
  maxRequestBytes: 64 * 1024,
  /** Hard cap of the transport: socket.io disconnects a client that sends more in one message. */
  maxTransportMessageBytes: 256 * 1024,
  maxDisplayNameLength: 64,
  maxRoomIdLength: 64,
  maxPeerIdLength: 64,
  maxTokenLength: 1024,
  /**
   * Defaults of the per-peer and per-room caps, so one client cannot exhaust a worker
   * (the server's own are configurable: VOXFACE_MAX_*, server/rooms/Capacity.ts).
   * A browser holds 2 transports (send, receive); 4 leaves room for a reconnect.
   */
  maxTransportsPerPeer: 4,
  maxProducersPerPeer: 4,
  maxDataProducersPerPeer: 4,
  maxConsumersPerPeer: 64,
  maxPeersPerRoom: 32,
} as const;

/** Room and peer ids: short, URL-safe, printable. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
