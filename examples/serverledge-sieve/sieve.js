// A Serverledge function (Handler `sieve.js`, Runtime `nodejs17ng`). Canopy also awaits async ones.
module.exports = async function (params, context) {
  const n = Number(params.n || 100);
  console.log(`sieving up to ${n}`);
  const composite = new Uint8Array(n + 1);
  const primes = [];
  for (let i = 2; i <= n; i++) {
    if (composite[i]) continue;
    primes.push(i);
    for (let j = i * i; j <= n; j += i) composite[j] = 1;
  }
  return { count: primes.length, last: primes[primes.length - 1] };
};
