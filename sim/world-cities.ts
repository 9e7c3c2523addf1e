/**
 * Metro areas where generated hosts cluster: name, latitude, longitude and a rough weight (more hosts in
 * bigger internet hubs). Hand-picked coordinates of well-known cities, not a dataset.
 */
export const WORLD_CITIES: readonly (readonly [name: string, lat: number, lon: number, weight: number])[] = [
  ['New York', 40.71, -74.01, 10], ['Washington', 38.9, -77.04, 7], ['Boston', 42.36, -71.06, 4],
  ['Atlanta', 33.75, -84.39, 5], ['Miami', 25.76, -80.19, 4], ['Chicago', 41.88, -87.63, 7],
  ['Dallas', 32.78, -96.8, 6], ['Denver', 39.74, -104.99, 3], ['Los Angeles', 34.05, -118.24, 8],
  ['San Francisco', 37.77, -122.42, 8], ['Seattle', 47.61, -122.33, 5], ['Toronto', 43.65, -79.38, 5],
  ['Montreal', 45.5, -73.57, 3], ['Vancouver', 49.28, -123.12, 2], ['Mexico City', 19.43, -99.13, 4],
  ['São Paulo', -23.55, -46.63, 6], ['Rio de Janeiro', -22.91, -43.17, 3], ['Buenos Aires', -34.6, -58.38, 4],
  ['Santiago', -33.45, -70.67, 3], ['Bogotá', 4.71, -74.07, 3], ['Lima', -12.05, -77.04, 2],
  ['London', 51.51, -0.13, 10], ['Amsterdam', 52.37, 4.9, 7], ['Frankfurt', 50.11, 8.68, 8],
  ['Paris', 48.86, 2.35, 7], ['Madrid', 40.42, -3.7, 4], ['Milan', 45.46, 9.19, 4],
  ['Stockholm', 59.33, 18.07, 3], ['Warsaw', 52.23, 21.01, 3], ['Vienna', 48.21, 16.37, 3],
  ['Zurich', 47.38, 8.54, 3], ['Dublin', 53.35, -6.26, 3], ['Moscow', 55.76, 37.62, 5],
  ['Istanbul', 41.01, 28.98, 4], ['Athens', 37.98, 23.73, 2], ['Helsinki', 60.17, 24.94, 2],
  ['Tel Aviv', 32.09, 34.78, 3], ['Dubai', 25.2, 55.27, 3], ['Cairo', 30.04, 31.24, 3],
  ['Lagos', 6.52, 3.38, 3], ['Nairobi', -1.29, 36.82, 2], ['Johannesburg', -26.2, 28.05, 3],
  ['Cape Town', -33.92, 18.42, 2], ['Mumbai', 19.08, 72.88, 6], ['Delhi', 28.61, 77.21, 5],
  ['Bangalore', 12.97, 77.59, 5], ['Chennai', 13.08, 80.27, 3], ['Singapore', 1.35, 103.82, 7],
  ['Jakarta', -6.21, 106.85, 4], ['Bangkok', 13.76, 100.5, 4], ['Kuala Lumpur', 3.14, 101.69, 3],
  ['Manila', 14.6, 120.98, 3], ['Hong Kong', 22.32, 114.17, 6], ['Shanghai', 31.23, 121.47, 6],
  ['Beijing', 39.9, 116.41, 6], ['Shenzhen', 22.54, 114.06, 4], ['Taipei', 25.03, 121.57, 3],
  ['Seoul', 37.57, 126.98, 6], ['Tokyo', 35.68, 139.69, 9], ['Osaka', 34.69, 135.5, 4],
  ['Sydney', -33.87, 151.21, 5], ['Melbourne', -37.81, 144.96, 4], ['Perth', -31.95, 115.86, 2],
  ['Auckland', -36.85, 174.76, 2], ['Honolulu', 21.31, -157.86, 1],
];
