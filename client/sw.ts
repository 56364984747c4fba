/** Service worker placeholder; replaced by the app-shell cache. */
export {};
