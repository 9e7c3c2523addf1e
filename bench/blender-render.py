"""Render a GLB in Blender the way the Tessera render bench asks, and write timings as JSON.

Run by bench/blender-runner.ts:
    blender -b --factory-startup --python-exit-code 1 --python bench/blender-render.py -- JOB.json

JOB.json (all coordinates in glTF space, Y up; this script converts to Blender's Z up):
    glb, engine ('BLENDER_WORKBENCH' | 'BLENDER_EEVEE'), samples, pngCompression, outDir, resultPath,
    spawnedAtMs (epoch ms when the runner spawned this process), fps,
    env: { path (RGBA float32, rows bottom-up, Blender's equirect convention), width, height },
    background: [r, g, b] (linear), keyLightIntensity,
    passes: [{ width, height, label, warmup, frames: [int], camera: { position, target, fovDeg, near, far },
               keyLight: { direction } | null }]
Every pass renders `warmup` untimed frames first (the first frame pays for shader compiles), then the
timed frames; each timed frame is split into render (frame_set + bpy.ops.render.render) and encode
(Image.save_render of the Render Result: color management + PNG write).
"""

import json
import math
import os
import sys
import time

SCRIPT_STARTED_EPOCH_MS = time.time() * 1000.0

import bpy  # noqa: E402
import numpy  # noqa: E402
from mathutils import Vector  # noqa: E402

# Blender 3.4's glTF importer uses numpy.bool, which NumPy 1.24 removed.
numpy.bool = bool


def gltf_to_blender(v):
    """glTF (x, y, z), Y up, to Blender (x, -z, y), Z up: the importer's axis conversion."""
    return Vector((v[0], -v[2], v[1]))


def look_rotation(direction):
    """Quaternion turning an object's -Z axis to `direction`, keeping its Y axis towards world up."""
    return direction.normalized().to_track_quat("-Z", "Y")


def clear_scene():
    bpy.ops.wm.read_homefile(use_empty=True)


def import_glb(path):
    result = bpy.ops.import_scene.gltf(filepath=path)
    if "FINISHED" not in result:
        raise RuntimeError(f"glTF import of {path} failed: {result}")


def setup_output(scene, job):
    render = scene.render
    render.engine = job["engine"]
    render.resolution_percentage = 100
    render.film_transparent = False
    render.dither_intensity = 0.0  # Tessera does not dither; dither noise would also inflate the PNGs
    render.use_compositing = False
    render.use_sequencer = False
    render.fps = job["fps"]
    render.fps_base = 1.0
    settings = render.image_settings
    settings.file_format = "PNG"
    settings.color_mode = "RGBA"
    settings.color_depth = "8"
    settings.compression = job["pngCompression"]
    view = scene.view_settings
    view.view_transform = "Standard"  # Blender 3.4 has no Khronos PBR Neutral; Standard = no tone curve
    view.look = "None"
    view.exposure = 0.0
    view.gamma = 1.0
    scene.display_settings.display_device = "sRGB"
    samples = int(job["samples"])
    if job["engine"] == "BLENDER_EEVEE":
        eevee = scene.eevee
        eevee.taa_render_samples = samples
        eevee.use_gtao = False
        eevee.use_bloom = False
        eevee.use_ssr = False
        eevee.use_soft_shadows = False
        eevee.use_motion_blur = False
        eevee.use_volumetric_lights = False
    else:
        scene.display.render_aa = "OFF" if samples <= 1 else str(min(32, max(5, samples)))
        shading = scene.display.shading
        shading.light = "STUDIO"
        shading.color_type = "TEXTURE"
        shading.show_shadows = False
        shading.show_cavity = False
        shading.show_object_outline = False
        shading.show_specular_highlight = True
        show_base_color_textures()


def show_base_color_textures():
    """Workbench's TEXTURE color shows each material's active image node: make it the base color image."""
    for mat in bpy.data.materials:
        if not mat.use_nodes:
            continue
        tree = mat.node_tree
        for node in tree.nodes:
            if node.type != "BSDF_PRINCIPLED":
                continue
            base = node.inputs["Base Color"]
            stack = [link.from_node for link in base.links]
            while stack:
                src = stack.pop()
                if src.type == "TEX_IMAGE":
                    tree.nodes.active = src
                    break
                stack.extend(link.from_node for inp in src.inputs for link in inp.links)


def setup_world(scene, job):
    """Environment lighting from the studio equirect image; the camera sees a flat background color."""
    world = bpy.data.worlds.new("bench-world")
    scene.world = world
    bg = job["background"]
    world.color = (bg[0], bg[1], bg[2])  # what Workbench shows as background
    world.use_nodes = True
    nodes = world.node_tree.nodes
    links = world.node_tree.links
    nodes.clear()
    env = job["env"]
    image = bpy.data.images.new("bench-env", env["width"], env["height"], alpha=True, float_buffer=True)
    pixels = numpy.fromfile(env["path"], dtype=numpy.float32)
    if pixels.size != env["width"] * env["height"] * 4:
        raise RuntimeError(f"environment {env['path']} has {pixels.size} floats, expected {env['width'] * env['height'] * 4}")
    image.colorspace_settings.name = "Linear"  # before the pixels: a colorspace change regenerates the image
    image.pixels.foreach_set(pixels)
    image.pack()  # keep the pixels: a generated image is otherwise rebuilt blank when reloaded
    tex = nodes.new("ShaderNodeTexEnvironment")
    tex.image = image
    tex.interpolation = "Linear"
    lit = nodes.new("ShaderNodeBackground")
    lit.inputs["Strength"].default_value = 1.0
    flat = nodes.new("ShaderNodeBackground")
    flat.inputs["Color"].default_value = (bg[0], bg[1], bg[2], 1.0)
    flat.inputs["Strength"].default_value = 1.0
    path = nodes.new("ShaderNodeLightPath")
    mix = nodes.new("ShaderNodeMixShader")
    out = nodes.new("ShaderNodeOutputWorld")
    links.new(tex.outputs["Color"], lit.inputs["Color"])
    links.new(path.outputs["Is Camera Ray"], mix.inputs["Fac"])
    links.new(lit.outputs["Background"], mix.inputs[1])
    links.new(flat.outputs["Background"], mix.inputs[2])
    links.new(mix.outputs["Shader"], out.inputs["Surface"])


def make_camera(scene):
    data = bpy.data.cameras.new("bench-camera")
    data.lens_unit = "FOV"
    data.sensor_fit = "VERTICAL"  # three.js fov is vertical
    cam = bpy.data.objects.new("bench-camera", data)
    cam.rotation_mode = "QUATERNION"
    scene.collection.objects.link(cam)
    scene.camera = cam
    return cam


def make_key_light(scene, intensity):
    data = bpy.data.lights.new("bench-key-light", type="SUN")
    data.energy = intensity  # sun strength (W/m²) = glTF/three directional intensity (lux), as Blender's glTF I/O maps it
    data.angle = 0.0
    data.use_shadow = False  # Tessera's key light casts no shadow
    light = bpy.data.objects.new("bench-key-light", data)
    light.rotation_mode = "QUATERNION"
    scene.collection.objects.link(light)
    return light


def apply_pass(scene, cam, light, p):
    scene.render.resolution_x = p["width"]
    scene.render.resolution_y = p["height"]
    c = p["camera"]
    pos = gltf_to_blender(c["position"])
    target = gltf_to_blender(c["target"])
    cam.location = pos
    cam.rotation_quaternion = look_rotation(target - pos)
    cam.data.angle_y = math.radians(c["fovDeg"])
    cam.data.clip_start = c["near"]
    cam.data.clip_end = c["far"]
    if light is not None:
        key = p.get("keyLight")
        light.hide_render = key is None
        if key is not None:
            light.rotation_quaternion = look_rotation(gltf_to_blender(key["direction"]))


def render_frame(scene, frame, out_path):
    t0 = time.perf_counter()
    scene.frame_set(frame)
    bpy.ops.render.render(write_still=False)
    t1 = time.perf_counter()
    bpy.data.images["Render Result"].save_render(filepath=out_path, scene=scene)
    t2 = time.perf_counter()
    return {"frame": frame, "renderMs": (t1 - t0) * 1000.0, "encodeMs": (t2 - t1) * 1000.0, "totalMs": (t2 - t0) * 1000.0}


def main():
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    if len(argv) != 1:
        raise SystemExit("usage: blender -b --python blender-render.py -- JOB.json")
    with open(argv[0]) as f:
        job = json.load(f)
    result = {
        "blenderVersion": bpy.app.version_string,
        "engine": job["engine"],
        "scriptStartedEpochMs": SCRIPT_STARTED_EPOCH_MS,
        "spawnedAtMs": job.get("spawnedAtMs"),
        "passes": [],
    }
    t0 = time.perf_counter()
    clear_scene()
    import_glb(job["glb"])
    t1 = time.perf_counter()
    scene = bpy.context.scene
    setup_output(scene, job)
    setup_world(scene, job)
    cam = make_camera(scene)
    needs_light = any(p.get("keyLight") is not None for p in job["passes"])
    light = make_key_light(scene, job["keyLightIntensity"]) if needs_light else None
    t2 = time.perf_counter()
    result["importMs"] = (t1 - t0) * 1000.0
    result["setupMs"] = (t2 - t1) * 1000.0
    result["triangles"] = sum(
        sum(len(poly.vertices) - 2 for poly in o.data.polygons) for o in scene.objects if o.type == "MESH"
    )
    os.makedirs(job["outDir"], exist_ok=True)
    for p in job["passes"]:
        apply_pass(scene, cam, light, p)
        # The pass's first frame is kept as <label>-first.png (for comparing pictures); later ones overwrite <label>.png.
        first_path = os.path.join(job["outDir"], f"{p['label']}-first.png")
        out_path = os.path.join(job["outDir"], f"{p['label']}.png")
        done = []
        for i, f in enumerate(p["frames"]):
            path = first_path if i == 0 else out_path
            frame = render_frame(scene, f, path)
            frame["pngBytes"] = os.path.getsize(path)
            done.append(frame)
        warm, timed = done[: p["warmup"]], done[p["warmup"]:]
        entry = {"label": p["label"], "width": p["width"], "height": p["height"], "warmup": warm, "frames": timed, "image": first_path}
        if p.get("writeStillCheck"):
            # The one-call form the docs show, to confirm render + save_render costs the same.
            scene.render.filepath = out_path
            c0 = time.perf_counter()
            bpy.ops.render.render(write_still=True)
            entry["writeStillMs"] = (time.perf_counter() - c0) * 1000.0
        result["passes"].append(entry)
    result["scriptEndedEpochMs"] = time.time() * 1000.0
    with open(job["resultPath"], "w") as f:
        json.dump(result, f)


main()
