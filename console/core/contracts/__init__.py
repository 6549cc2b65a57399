"""What the core asks of the outside world, as Protocols with their value types and errors:
a container runtime, a proxy, a progress source, a notifier. Drivers implement them; the
composition root (`console.wiring`) builds them; the core never imports a driver."""
