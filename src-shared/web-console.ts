// What the web console's server and the renderer agree on outside the control contract
// (kept free of imports: the renderer loads it with its first bundle).

/** The page carries a signed-in user's library list in this JSON data block (`<script type="application/json">`). */
export const INITIAL_LIST_ELEMENT_ID = 'maru-initial-list';
