;; Gear-hash scan for the FastCDC chunker (chunker.ts), compiled to gear-scan-wasm.ts by
;; `node scripts/build-gear-wasm.mjs` (a unit test checks the two agree).
;;
;; Memory: bytes [0, 1024) hold the gear table (256 little-endian i32, written by
;; gear-scan.ts); the bytes to scan start at offset 1024 (the `offset=` of the loads).
;;
;; scan(i, end, h, mask): rolls h = (h << 1) + GEAR[byte] (wrapping i32) over data[i, end)
;; and returns the index just past the first byte after which (h & mask) == 0, or -1 if
;; there is none. The final hash is left in the exported global `h`. Exactly the cuts of
;; the one-byte JavaScript loop in docs/FORMAT.md §5; unrolled by four.
(module
  (memory (export "memory") 17)
  (global $h (export "h") (mut i32) (i32.const 0))
  (func (export "scan") (param $i i32) (param $end i32) (param $h i32) (param $mask i32) (result i32)
    (local $end4 i32)
    (local.set $end4 (i32.sub (local.get $end) (i32.const 3)))
    (block $tail
      (loop $quad
        (br_if $tail (i32.ge_s (local.get $i) (local.get $end4)))
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
                               (i32.load (i32.shl (i32.load8_u offset=1024 (local.get $i)) (i32.const 2)))))
        (if (i32.eqz (i32.and (local.get $h) (local.get $mask)))
          (then (global.set $h (local.get $h)) (return (i32.add (local.get $i) (i32.const 1)))))
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
                               (i32.load (i32.shl (i32.load8_u offset=1025 (local.get $i)) (i32.const 2)))))
        (if (i32.eqz (i32.and (local.get $h) (local.get $mask)))
          (then (global.set $h (local.get $h)) (return (i32.add (local.get $i) (i32.const 2)))))
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
                               (i32.load (i32.shl (i32.load8_u offset=1026 (local.get $i)) (i32.const 2)))))
        (if (i32.eqz (i32.and (local.get $h) (local.get $mask)))
          (then (global.set $h (local.get $h)) (return (i32.add (local.get $i) (i32.const 3)))))
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
                               (i32.load (i32.shl (i32.load8_u offset=1027 (local.get $i)) (i32.const 2)))))
        (if (i32.eqz (i32.and (local.get $h) (local.get $mask)))
          (then (global.set $h (local.get $h)) (return (i32.add (local.get $i) (i32.const 4)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $quad)))
    (block $done
      (loop $one
        (br_if $done (i32.ge_s (local.get $i) (local.get $end)))
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
                               (i32.load (i32.shl (i32.load8_u offset=1024 (local.get $i)) (i32.const 2)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (if (i32.eqz (i32.and (local.get $h) (local.get $mask)))
          (then (global.set $h (local.get $h)) (return (local.get $i))))
        (br $one)))
    (global.set $h (local.get $h))
    (i32.const -1))
)
