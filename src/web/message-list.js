// @ts-check
/**
 * The message list while replies come in: it keeps the newest message in view unless the user
 * has scrolled up to read (then a button takes them back down), and shows a typing indicator
 * from the moment a message is sent until the reply's first words arrive.
 *
 * It reads the page's own signals rather than being called by the run code: a run is under way
 * while Stop is shown, and its reply has begun once a `.message.assistant.streaming` is in the
 * list.
 */

/** How close to the end (in pixels) still counts as at the end: a line's height, give or take. */
const NEAR_END = 48;

/**
 * @param {{ list: HTMLElement, scrollButton: HTMLButtonElement, stop: HTMLElement }} elements
 *   `list`, the scrolling message list; `scrollButton`, hidden until the user has scrolled up;
 *   `stop`, the Stop button, shown while a run is under way
 */
export function createMessageList({ list, scrollButton, stop }) {
  /** Whether the list follows new content: false once the user scrolls up, true again at the end. */
  let pinned = true;
  /** The list's scrollTop after its last scroll: only the user scrolls it up. */
  let lastTop = 0;

  const distanceToEnd = () => list.scrollHeight - list.scrollTop - list.clientHeight;
  const showButton = () => {
    scrollButton.hidden = distanceToEnd() <= NEAR_END;
  };

  list.addEventListener(
    "scroll",
    () => {
      // Replies only grow the list, and the page only scrolls it down: a move up is the user's.
      if (distanceToEnd() <= NEAR_END) pinned = true;
      else if (list.scrollTop < lastTop) pinned = false;
      lastTop = list.scrollTop;
      showButton();
    },
    { passive: true },
  );
  scrollButton.addEventListener("click", () => {
    pinned = true;
    const smooth = !matchMedia("(prefers-reduced-motion: reduce)").matches;
    list.scrollTo({ top: list.scrollHeight, behavior: smooth ? "smooth" : "instant" });
  });
  // The window resized, or the keyboard of a phone came up: the end may have moved.
  new ResizeObserver(() => follow()).observe(list);

  /** Shows the end of the list if the user was there (they have not scrolled up to read). */
  function follow() {
    if (pinned) {
      list.scrollTop = list.scrollHeight;
      lastTop = list.scrollTop;
    }
    showButton();
  }

  const typing = typingIndicator();
  /** Shows the indicator at the end of the list while a run has not yet said anything. */
  const syncTyping = () => {
    const waiting = !stop.hidden && list.querySelector(".message.user") !== null && list.querySelector(".message.assistant.streaming") === null;
    if (waiting && list.lastElementChild !== typing) {
      list.append(typing);
      follow();
    } else if (!waiting && typing.isConnected) typing.remove();
  };
  // The list is redrawn whole, and the reply appended, by the page: follow both, and Stop.
  new MutationObserver(syncTyping).observe(list, { childList: true });
  new MutationObserver(syncTyping).observe(stop, { attributes: true, attributeFilter: ["hidden"] });

  return {
    follow,
    /** Goes to the end and follows from there on: a chat was opened, or the user sent a message. */
    toEnd() {
      pinned = true;
      follow();
    },
  };
}

/** Three dots in a reply's bubble; hidden from screen readers, which hear the status ("Answering…"). */
function typingIndicator() {
  const node = document.createElement("div");
  node.className = "typing";
  node.setAttribute("aria-hidden", "true");
  node.title = "Writing a reply…";
  for (let dot = 0; dot < 3; dot += 1) node.append(document.createElement("span"));
  return node;
}
