// What the web console's server and the renderer agree on outside the control contract
// (kept free of imports: the renderer loads it with its first bundle).

/** The page carries a signed-in user's library list in this JSON data block (`<script type="application/json">`). */
export const INITIAL_LIST_ELEMENT_ID = 'maru-initial-list';

/**
 * On that block: the language the server rendered the page's markup in (absent when it sent
 * no markup). The browser hydrates the markup only when it picks the same language.
 */
export const RENDERED_LANGUAGE_ATTRIBUTE = 'data-rendered-language';

/** A cookie mirroring the language the user picked (localStorage holds it for the browser). */
export const LANGUAGE_COOKIE = 'maru_lang';
