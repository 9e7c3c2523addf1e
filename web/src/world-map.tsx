/**
 * An offline world map: Natural Earth land outlines from world-atlas (bundled, no map tiles from the internet)
 * projected with d3-geo; nodes at their claimed locations, and great-circle lines from the viewer to the nodes
 * it pinged, labelled with the RTTs it measured.
 */
import { geoGraticule10, geoNaturalEarth1, geoPath } from 'd3-geo';
import { feature } from 'topojson-client';
import type { Topology } from 'topojson-specification';
import land110 from 'world-atlas/land-110m.json';
import type { NodeView, RttMeasurement } from '../../api/client/index.ts';

export interface LatLon {
  lat: number;
  lon: number;
}

const WIDTH = 960;
const HEIGHT = 490;
const land = feature(land110 as unknown as Topology, (land110 as unknown as Topology).objects.land);
const projection = geoNaturalEarth1().fitExtent(
  [
    [4, 4],
    [WIDTH - 4, HEIGHT - 4],
  ],
  { type: 'Sphere' },
);
const path = geoPath(projection);
const LAND = path(land) ?? '';
const SPHERE = path({ type: 'Sphere' }) ?? '';
const GRATICULE = path(geoGraticule10()) ?? '';

export function WorldMap({ nodes, viewer, rtts, onPlaceViewer }: { nodes: NodeView[]; viewer?: LatLon; rtts: RttMeasurement[]; onPlaceViewer(p: LatLon): void }) {
  const located = nodes.filter((n) => n.card.location);
  const at = (p: LatLon) => projection([p.lon, p.lat]) ?? [0, 0];
  return (
    <svg
      class="world-map"
      viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
      role="img"
      aria-label={`World map with ${located.length} located node${located.length === 1 ? '' : 's'}`}
      data-testid="world-map"
      onClick={(e) => {
        const svg = e.currentTarget as SVGSVGElement;
        const pt = svg.createSVGPoint();
        pt.x = e.clientX;
        pt.y = e.clientY;
        const local = pt.matrixTransform(svg.getScreenCTM()!.inverse());
        const ll = projection.invert?.([local.x, local.y]);
        if (ll && Number.isFinite(ll[0]) && Number.isFinite(ll[1])) onPlaceViewer({ lon: round(ll[0]), lat: round(ll[1]) });
      }}
    >
      <path d={SPHERE} class="sphere" />
      <path d={GRATICULE} class="graticule" />
      <path d={LAND} class="land" />
      {viewer &&
        rtts.map((r) => {
          const n = located.find((x) => x.nodeId === r.nodeId);
          if (!n) return null;
          const line = path({ type: 'LineString', coordinates: [[viewer.lon, viewer.lat], [n.card.location!.lon, n.card.location!.lat]] });
          const [x, y] = at({ lat: (viewer.lat + n.card.location!.lat) / 2, lon: (viewer.lon + n.card.location!.lon) / 2 });
          return (
            <g class="rtt">
              <path d={line ?? ''} />
              <text x={x} y={y - 4}>
                {r.rttMs.toFixed(1)} ms
              </text>
            </g>
          );
        })}
      {located.map((n) => {
        const [x, y] = at(n.card.location!);
        return (
          <g class={`node ${n.healthy ? 'healthy' : 'down'}`} data-testid="map-node">
            <circle cx={x} cy={y} r={6 + 6 * Math.min(1, n.load.reported)} />
            <text x={x + 10} y={y + 4}>
              {n.card.name}
            </text>
            <title>
              {n.card.name} ({n.nodeId}) · {n.healthy ? 'healthy' : 'not heard from'} · {n.load.running}/{n.load.concurrency} busy
            </title>
          </g>
        );
      })}
      {viewer && (
        <g class="viewer">
          <circle cx={at(viewer)[0]} cy={at(viewer)[1]} r={5} />
          <text x={at(viewer)[0] + 8} y={at(viewer)[1] - 8}>
            you
          </text>
        </g>
      )}
    </svg>
  );
}

const round = (v: number) => Math.round(v * 100) / 100;
