// Who may address a server that listens on 127.0.0.1 only. Any web page the user opens can still
// aim requests at loopback: a DNS-rebinding page arrives with its own host name in `Host`, and a
// cross-site form post carries its own `Origin`. The headless server and the Intuit emulator's
// control endpoint both refuse such requests with these checks.

/** The Host values that name a loopback server on `port`. */
function loopbackHosts(port: number): string[] {
  return [`127.0.0.1:${port}`, `localhost:${port}`];
}

/** Host must name this server exactly: a rebinding attack arrives with the attacker's host name. */
export function isLoopbackHost(host: string | undefined, port: number): boolean {
  return host !== undefined && loopbackHosts(port).includes(host.toLowerCase());
}

/** An Origin that is present and not this server's own (including the opaque "null"). */
export function isForeignOrigin(origin: string | undefined, port: number): boolean {
  return (
    origin !== undefined &&
    !loopbackHosts(port)
      .map((host) => `http://${host}`)
      .includes(origin.toLowerCase())
  );
}
