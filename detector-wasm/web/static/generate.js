// A small seeded generator of labeled transactions, for trying the playground without a file.
//
// It mimics `packager generate` in spirit (not byte for byte): each user has a typical amount and a spread
// (log-normal amounts) and shops at random times over two weeks; into that stream go `amount_spike` events
// (one purchase 5–8 of the user's standard deviations above their habit) and `burst` events (6–10 small
// purchases seconds apart, like card testing). Every event carries `label`, so the page can score it.

// mulberry32: a tiny deterministic PRNG, so a seed always gives the same stream.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(r) {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

/** Returns JSON lines: {userId, amount, timestamp, transactionId, merchantId, label}. */
export function generateStream({ seed = 1, users = 40, events = 3000, spikeRate = 0.004, burstRate = 0.002 } = {}) {
  const r = rng(seed);
  const people = Array.from({ length: users }, (_, i) => ({
    id: `user${String(i + 1).padStart(3, "0")}`,
    logTypical: 3.2 + normal(r) * 0.8,
    spread: 0.25 + r() * 0.35,
    weight: 0.3 + r() * 2,
  }));
  const totalWeight = people.reduce((s, p) => s + p.weight, 0);
  const pick = () => {
    let x = r() * totalWeight;
    for (const p of people) {
      x -= p.weight;
      if (x <= 0) return p;
    }
    return people[people.length - 1];
  };
  const start = 1767225600000;
  const meanGapMs = (14 * 86400000) / events;
  const out = [];
  let t = start;
  let n = 0;
  const emit = (user, amount, time, label) => {
    n += 1;
    out.push(JSON.stringify({
      userId: user.id,
      amount: Math.round(amount * 100) / 100,
      timestamp: Math.round(time),
      transactionId: `txn-${seed}-${String(n).padStart(8, "0")}`,
      merchantId: `merchant-${String(1 + Math.floor(r() * 400)).padStart(3, "0")}`,
      label,
    }));
  };
  while (n < events) {
    t += -Math.log(Math.max(r(), 1e-12)) * meanGapMs;
    const user = pick();
    const roll = r();
    if (roll < burstRate) {
      const count = 6 + Math.floor(r() * 5);
      for (let i = 0; i < count && n < events; i += 1) {
        t += 5000 + r() * 15000;
        emit(user, 1 + r() * 4, t, "burst");
      }
    } else if (roll < burstRate + spikeRate) {
      emit(user, Math.exp(user.logTypical + user.spread * (5 + r() * 3)), t, "amount_spike");
    } else {
      emit(user, Math.exp(user.logTypical + user.spread * normal(r)), t, "normal");
    }
  }
  return out.join("\n") + "\n";
}
