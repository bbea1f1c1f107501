/**
 * Compression of stored rows: what is written now reads back, and what an earlier release wrote
 * (deflated with zlib's 32 KiB window, before this one's 4 KiB) still reads.
 */
import { describe, expect, it } from "vitest";
import { deflateTyped, inflateTyped, packJson, unpackJson } from "../../src/storage/compression.js";

/** 12 KB of text whose second half repeats the first 6 KB back: deflate refers that far back. */
function farRepeats(): { text: string } {
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa"];
  let block = "";
  while (block.length < 6000) block += `${words[Math.floor(random() * 16)]} `;
  return { text: block + block };
}

/** `packJson(farRepeats())` as the release before this one wrote it (32 KiB window). */
const WRITTEN_BEFORE = "Ae2Y3W7bMAyFX8Xom7ltumRL6yLLigHD3n3AoWV+h1Kudqsbx5El/vOQ4p+nKKFP339dL6f7cno5b8vl4/WyLp/r57r8uFzb/4/t6/T+fLot28+X9bY839avLTa9nq739tTCev08r8u37fq2v8ZmEYvT75cfp+V6eW+fdvbn7X667pTIRttfzuvtejntJHVYj0Ow/kXfY//b9vt+2+4HFQkjEaWzOLQ9x/nQPOQJ2XZB8+Cxd//SaIg1d+/vQcy0Di5BXzTjFarzUGW4/4S5KKq4Sk096KX9TFgm9ddDx5oWIZp2uLb6Z2RCALEK/s3SfoYSmtERNIgt8jFNZd/c0iku2ohk/A8CdEqsxGlzYHw4NGgqBTeX3ALrOBE7Yca2beeMnKAHtVz83diJDHJnvMEyinrHimxiUSiWRToZbeBl2Pngbjka25pAwYdBnOFm1J2ih1EcLwIStkY2QyS1k9ob6zJipknIwGdsCzliRaQqlng40OTaTigwKdIKzPhENgrRqAevVLiA8/CvhWYsxVO8JeMuHoK+MaTH410HSmYEPUCzxRZsF689VMc67UCSrn0muB4ubxHJLWCIG2xkSk9hSyQ4Ml4NM/iMz9C+0aPxEGmhTOqhk4nB3KRT+m5lCMHA9ERyG5rDWn1KioXjPqq7vup/9gV67JIcVkeMAXJhap0/tic1C9LcidoFH7TNYsGMNfQ2SHLEcDKO/L0kbaWgy7AxgtHwiuq+SxC0iDCNS7FwKDbokExOyzf3RoEeOj2eNKBJR+QL7WqKAGDhizj3oGzCTGgDhpJbTJo32yKwyDzVvhPXEunjgCXyoHFBn1BDI+HbSImIlrWBsNCldCw3wplfyGacGaCUdGp/SpRbaMBGOjOyTQIMKg+f2fGmlAQ/U8QLIlgbgsIwImc+BVcEFkilSwdXCE9s81pJV4sapgar9gAbGejuShRBideI688Yadr/Qe+JuITNvb4AaLvykiDGNMOtwoXH9QyZUiIGcemXMn3IeILAWeW0yOYbImfxQ+k1DznKa6sZeYSn/e6UU29hiLxRdNbxvjSznIbu8Tz3pV6861lzFETcqGgN0yO8k8JqlkHja6DZgbnNosKuqbjTrTBsrOx6SfgzeGAYGSJ0V8ZH3WJKNrq6sW8euK7v3Hb2tXR34gwrlcRAY+rMtNR3OQbQHq7pTtyV0FVadwoQwxGHh8R2pl25Zg1GLJ5rBGBeVS3wUBLRldQLeTcw0rfey95y5L3XRRp6Bx2oD4ngLbcSoskQhQE2vEboYKIakwn5CQeiltdCgANslkxGv2fWcdAjd6BRwytbgP56UaYYJUlZIDO6avuSSVCjGXeMcpkMIXpUMrUYSkQaQFdQKJMiGDcTo7BGVcC4BPHu4WQRahas9gb5tJZTZI4SnuFLeMobnc7fhjnWyTKs6UQvpPBRimpdSvbpLtCj39JK8ALi+UiMKfVgPHirVXzUCtexh+eSh4IhYqnlpaoD8VBhyvUQWGgd65y5z5n7nLnPmfucuc+Z+5y5z5n7nLnPmfucuc+Z+5y5z5n7nLnPmfucuc+Z+5y5z5n7nLnPmfucuf/nzP3p7z8=";

describe("compression", () => {
  it("reads what an earlier release deflated with a larger window", () => {
    const bytes = Buffer.from(WRITTEN_BEFORE, "base64");
    // Deflated, and by far: the repeat was found 6 KB back.
    expect(bytes.length).toBeLessThan(1500);
    expect(unpackJson(bytes)).toEqual(farRepeats());
  });

  it("round-trips small and large payloads, deflated when that is smaller", () => {
    const small = { a: 1 };
    expect(packJson(small).toString("utf8")).toBe(JSON.stringify(small));
    for (const value of [farRepeats(), { messages: [{ role: "user", content: "Hello there! ".repeat(40) }] }]) {
      const packed = packJson(value);
      expect(packed.length).toBeLessThan(JSON.stringify(value).length);
      expect(unpackJson(packed)).toEqual(value);
    }
    const text = Buffer.from(JSON.stringify(farRepeats()));
    const [type, bytes] = deflateTyped("json", text);
    expect(type).toBe("json+deflate1");
    expect(Buffer.from(inflateTyped(type, bytes)[1] as Uint8Array).equals(text)).toBe(true);
  });
});
