{{!
  The `juju bootstrap` of a controller whose Kubernetes images come from the private registry: Juju pulls
  jujud-operator, juju-db and charm-base from the controller's caas-image-repo (Juju controller config;
  a repository, or JSON with serveraddress and credentials). Rendered by `airgap config juju`.

  variables:
    tool              the airgap that rendered the file, for the first comment
    registry          the private registry, HOST[:PORT][/PREFIX]
    caas_image_repo   REGISTRY/jujusolutions: where `airgap load` puts Juju's images
    has_images        true when the images are listed
    images            the Juju images of this Juju version and these charm bases
    images.reference  the image at its place in the private registry
    images.why        why it is needed
    no_version        true when no Juju version was given, so no tags can be named
    cloud             the Kubernetes cloud known to juju (juju add-k8s, or microk8s)
    controller        the controller's name; empty: juju chooses one
    has_credentials   true when the registry needs a login
    username          the registry user
    repository_json   caas_image_repo as a JSON string
    server_json       the registry's HOST[:PORT] as a JSON string
}}
#!/bin/sh
# Bootstrap a Juju controller that takes its images from {{{registry}}}; written by {{{tool}}}.
#
# On Kubernetes, Juju pulls these from the controller's caas-image-repo ({{{caas_image_repo}}}):
{{#has_images}}
{{#images}}
#   {{{reference}}}   {{{why}}}
{{/images}}
{{/has_images}}
{{#no_version}}
#   {{{caas_image_repo}}}/jujud-operator:VERSION   the controller and the operators (VERSION: juju version)
#   {{{caas_image_repo}}}/juju-db:4.4               the controller's database (Juju 3; 4.0 for Juju 2.9)
#   {{{caas_image_repo}}}/charm-base:ubuntu-NN.NN   every sidecar charm's pod, one per base its charms run on
{{/no_version}}
# Load them first (airgap collect with the release, airgap load); a missing charm-base shows up later
# as ImagePullBackOff on every charm of that base.
#
# caas-image-repo is chosen at bootstrap: afterwards Juju lets only its credentials change.
# Juju has no setting for the registry's CA: the cluster's container runtime must trust it
# (airgap config microk8s|containerd --registry ... --ca-file CA).
set -eu
{{#has_credentials}}
# The password comes from AIRGAP_REGISTRY_PASSWORD when this runs: airgap never writes it anywhere.
: "${AIRGAP_REGISTRY_PASSWORD:?set AIRGAP_REGISTRY_PASSWORD to the registry password of {{{username}}}}"
umask 077
repo_file=$(mktemp)
trap 'rm -f "$repo_file"' EXIT
printf '{"repository":%s,"serveraddress":%s,"auth":"%s"}\n' {{repository_json}} {{server_json}} \
  "$(printf '%s:%s' {{username}} "$AIRGAP_REGISTRY_PASSWORD" | base64 | tr -d '\n')" >"$repo_file"
juju bootstrap {{cloud}} {{#controller}}{{controller}} {{/controller}}--config caas-image-repo="$repo_file"
{{/has_credentials}}
{{^has_credentials}}
juju bootstrap {{cloud}} {{#controller}}{{controller}} {{/controller}}--config caas-image-repo={{caas_image_repo}}
{{/has_credentials}}
