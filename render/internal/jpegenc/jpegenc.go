// Package jpegenc turns received frames back into JPEG for the browser view and the
// recorder. It is one function so a faster encoder can replace image/jpeg in one place.
package jpegenc

import (
	"bytes"
	"image"
	"image/jpeg"
)

// Encode writes img as a baseline JPEG at quality (1..100) into dst, reusing its
// storage, and returns the bytes.
func Encode(dst []byte, img image.Image, quality int) ([]byte, error) {
	buf := bytes.NewBuffer(dst[:0])
	if err := jpeg.Encode(buf, img, &jpeg.Options{Quality: quality}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
