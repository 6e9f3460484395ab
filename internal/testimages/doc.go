// Package testimages locates the real input images that `make images`
// (images/build.sh) builds as OCI layouts into the image cache,
// $SCONE_IMAGE_CACHE or ~/.cache/scone-build/images (docs/images.md).
//
// Tests call Layout(t, "nginx") for the layout directory of an image, or
// Image(t, "nginx") for the image itself; both skip the test with the command
// that builds the image when it is absent, so a missing image never passes
// silently.
package testimages
