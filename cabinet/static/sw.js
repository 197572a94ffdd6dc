/* Centra's service worker (served as /sw.js, scope "/"): the static assets are cached so the
   cabinet opens like an app; pages are never stored — a page, personal or not, always comes
   from the network, and only when the network is gone does the offline page show instead. */
const CACHE = "centra-static-v1";
const PRECACHE = ["/offline", "/static/site.css", "/static/icons/icon-192.png",
                  "/static/icons/icon-512.png"];
const STAFF = /^\/(admin|office|reports)(\/|$)/;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(PRECACHE))
    .then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || STAFF.test(url.pathname)) {
    return;
  }
  if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(() => caches.match("/offline")));
    return;
  }
  if (url.pathname.startsWith("/static/")) {
    // Stale while revalidate: the cached copy at once, a fresh one for next time.
    event.respondWith(caches.open(CACHE).then((cache) => cache.match(request).then((hit) => {
      const fresh = fetch(request).then((response) => {
        if (response.ok) cache.put(request, response.clone());
        return response;
      });
      return hit || fresh;
    })));
  }
});
